"""A hybrid search's keyword statement runs beside its vector statement, on a
second connection (:func:`memoryhub.db.beside`), with the same results.

These tests commit their rows (``transaction=True``): a second connection
sees nothing of a test's open transaction, which is also why a search inside
one runs both statements itself.
"""

import threading
from concurrent.futures import Future

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.utils import timezone

from memories import search as search_module
from memories.search import Scope, search_memories
from memoryhub import db as db_module
from memoryhub.db import beside
from tests.memories.test_search import add as add
from tests.memories.test_search import tokens, unit
from tests.memories.test_search_scope import SUBJECTS


@pytest.fixture
def traced(monkeypatch):
    """Record the thread and server process of each strong-list statement."""
    calls = []

    def traced_list(name):
        original = getattr(search_module, name)

        def strong_list(*args):
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid = cursor.fetchone()[0]
            calls.append((threading.current_thread().name, pid))
            return original(*args)

        monkeypatch.setattr(search_module, name, strong_list)

    traced_list("_scope_strong_list")
    traced_list("_strong_list")
    return calls


def _hybrid(space, subjects, axis, path="scope"):
    scope = Scope(space_id=space.pk, now=timezone.now(), subjects=subjects)
    return search_memories(
        **({"scope": scope} if path == "scope" else {"queryset": scope.queryset()}),
        query_embedding=unit(*([0] * axis), 1),
        query_tokens=tokens("tea gardens"),
        top_k=7,
        threshold=None,
        mode="hybrid",
    )


def _own_pid():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["scope", "queryset"])
def test_the_keyword_statement_runs_beside_with_the_same_results(
    space, add, settings, traced, path
):
    for n in range(60):
        memory = add(
            f"memory {n} about {'tea' if n % 2 else 'coffee'} and gardens",
            unit(*([0] * (n % 5)), 1, 0.01 * n),
        )
        memory.user_id = SUBJECTS[n % 3]
        memory.save()
    own = _own_pid()
    for subjects in ({}, {"user_id": "user-b"}):
        for axis in range(5):
            settings.DB_PARALLEL_READS = True
            together = _hybrid(space, subjects, axis, path)
            settings.DB_PARALLEL_READS = False
            alone = _hybrid(space, subjects, axis, path)
            assert together, "nothing found"
            assert [(m.pk, round(s, 6)) for m, s in together] == [
                (m.pk, round(s, 6)) for m, s in alone
            ]
    beside_calls, inline_calls = traced[0::2], traced[1::2]
    assert len(beside_calls) == 10
    for thread, pid in beside_calls:
        assert thread.startswith("db-beside")
        assert pid != own
    assert set(inline_calls) == {(threading.current_thread().name, own)}


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_search_runs_both_statements_itself(
    space, add, settings, traced
):
    settings.DB_PARALLEL_READS = True
    with transaction.atomic():
        # Uncommitted: only this connection sees it, and both lists find it.
        memory = add("tea gardens in spring", unit(1))
        hits = _hybrid(space, {}, 0)
        assert traced == [(threading.current_thread().name, _own_pid())]
        assert [m.pk for m, _ in hits] == [memory.pk]


@pytest.mark.django_db(transaction=True)
def test_a_failure_beside_reaches_the_caller_as_djangos_error(settings):
    settings.DB_PARALLEL_READS = True

    def fails():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    pending = beside(fails)
    assert isinstance(pending, Future)
    with pytest.raises(OperationalError):
        pending.result(timeout=30)
    # The slot came back, and the broken connection was dropped: the next
    # read beside gets a working one.
    pending = beside(_own_pid)
    assert pending.result(timeout=30) != _own_pid()


@pytest.mark.django_db(transaction=True)
def test_no_read_waits_for_a_busy_thread(settings):
    settings.DB_PARALLEL_READS = True
    release = threading.Event()
    started = [beside(release.wait, 30) for _ in range(db_module.BESIDE_THREADS)]
    try:
        assert all(isinstance(pending, Future) for pending in started)
        assert beside(_own_pid) is None  # the caller runs it itself
    finally:
        release.set()
    assert [pending.result(timeout=30) for pending in started] == [True] * len(started)
    assert beside(_own_pid).result(timeout=30) != _own_pid()


@pytest.mark.django_db(transaction=True)
def test_it_can_be_turned_off(settings):
    settings.DB_PARALLEL_READS = False
    assert beside(_own_pid) is None


def test_a_full_pool_keeps_the_read_with_the_caller(monkeypatch):
    """A request holding its connection must never wait for the pool."""

    class Pool:
        def __init__(self, **stats):
            self.stats = stats

        def get_stats(self):
            return self.stats

    class Pooled:
        settings_dict = {"OPTIONS": {"pool": {}}}

    pooled = Pooled()
    pooled.pool = Pool(pool_available=0, pool_size=10, pool_max=10)
    assert not db_module._pool_has_room(pooled)
    pooled.pool = Pool(pool_available=1, pool_size=10, pool_max=10)
    assert db_module._pool_has_room(pooled)
    pooled.pool = Pool(pool_available=0, pool_size=4, pool_max=10)
    assert db_module._pool_has_room(pooled)
    assert db_module._pool_has_room(connections["default"])  # tests: no pool
