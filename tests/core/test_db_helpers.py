"""memoryhub.db: batched statements and transactions bracketed by the caller."""

import pytest
from django.db import DataError, connection, transaction
from django.test.utils import CaptureQueriesContext
from psycopg import pq

from memoryhub.db import model_from_row, run_batch, unflushed_commit
from routing.models import Backend

pytestmark = pytest.mark.django_db


def _sent(call):
    with CaptureQueriesContext(connection) as captured:
        result = call()
    return result, [query["sql"] for query in captured.captured_queries]


def _batch(statements):
    with connection.cursor() as cursor:
        return run_batch(cursor, statements)


STATEMENTS = [
    ("SET LOCAL statement_timeout = '5s'", ()),
    ("SELECT %s::int + 1", [1]),
    ("SELECT n FROM generate_series(%s::int, %s::int) AS n", [3, 4]),
]


def test_a_batch_is_one_round_trip_with_each_statements_rows():
    results, sent = _sent(lambda: _batch(STATEMENTS))
    assert results == [None, [(2,)], [(3,), (4,)]]
    assert len(sent) == 1


def test_with_server_side_binding_a_batch_goes_statement_by_statement():
    options = connection.settings_dict["OPTIONS"]
    options["server_side_binding"] = True
    try:
        results, sent = _sent(lambda: _batch(STATEMENTS))
    finally:
        del options["server_side_binding"]
    assert results == [None, [(2,)], [(3,), (4,)]]
    assert len(sent) == 3


def test_a_failing_statement_stops_the_batch():
    def sequence() -> tuple:  # sequences ignore rollbacks: it shows what ran
        with connection.cursor() as cursor:
            cursor.execute("SELECT last_value, is_called FROM routing_backend_id_seq")
            return cursor.fetchone()

    before = sequence()
    with pytest.raises(DataError, match="division by zero"), transaction.atomic():
        _batch(
            [
                ("SELECT 1 / %s", [0]),
                ("SELECT nextval('routing_backend_id_seq')", ()),
            ]
        )
    assert sequence() == before
    _batch([("SELECT nextval('routing_backend_id_seq')", ())])
    assert sequence() != before  # the check would see a statement that ran


def test_model_from_row_converts_like_a_queryset(db):
    backend = Backend.objects.create(
        name="b", kind="local", config={"k": [1, 2]}, timeout_seconds=2
    )
    fields = [Backend._meta.get_field(name) for name in ("id", "name", "config")]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, name, config FROM routing_backend WHERE id = %s", [backend.pk]
        )
        built = model_from_row(Backend, fields, cursor.fetchone())
    assert (built.pk, built.name, built.config) == (backend.pk, "b", {"k": [1, 2]})
    assert built.get_deferred_fields() >= {"kind", "enabled"}
    assert not built._state.adding


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.fixture
def scratch():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE scratch (v int)")
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE scratch")


def _values() -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT v FROM scratch ORDER BY v")
        return [row[0] for row in cursor.fetchall()]


def _insert(value: int):
    return ("INSERT INTO scratch VALUES (%s)", [value])


def _in_transaction() -> bool:
    return connection.connection.info.transaction_status != pq.TransactionStatus.IDLE


@pytest.mark.django_db(transaction=True)
def test_a_bracketed_transaction_opens_and_commits_in_the_callers_batches(scratch):
    def block():
        with unflushed_commit() as bracket:
            _batch([*bracket.first, _insert(1)])
            assert _in_transaction() and _synchronous_commit() == "off"
            _batch([_insert(2), *bracket.last])
            assert not _in_transaction()

    _, sent = _sent(block)
    sent = [sql for sql in sent if not sql.startswith("SHOW")]  # the asserts'
    assert len(sent) == 2  # no BEGIN or COMMIT of their own
    assert sent[0].startswith("BEGIN; SET LOCAL synchronous_commit = off; INSERT")
    assert sent[1].endswith("; COMMIT")
    assert _values() == [1, 2]
    assert _synchronous_commit() == "on"
    assert connection.get_autocommit() and not connection.in_atomic_block


@pytest.mark.django_db(transaction=True)
def test_a_bracketed_block_that_does_not_send_its_commit_commits_on_leaving(scratch):
    with unflushed_commit() as bracket:
        _batch([*bracket.first, _insert(1)])
    assert not _in_transaction()
    assert _values() == [1]


@pytest.mark.django_db(transaction=True)
def test_a_bracketed_block_that_raises_rolls_back(scratch):
    with pytest.raises(RuntimeError), unflushed_commit() as bracket:
        _batch([*bracket.first, _insert(1)])
        raise RuntimeError
    assert not _in_transaction()
    assert _values() == []
    # A failed statement (the transaction is aborted) rolls back too.
    with (
        pytest.raises(DataError, match="division by zero"),
        unflushed_commit() as bracket,
    ):
        _batch([*bracket.first, _insert(2), ("SELECT 1 / %s", [0])])
    assert not _in_transaction()
    assert _values() == []


@pytest.mark.django_db(transaction=True)
def test_inside_an_enclosing_transaction_the_bracket_is_empty(scratch):
    with transaction.atomic():
        with unflushed_commit() as bracket:
            assert bracket.first == [] and bracket.last == []
            _batch([_insert(1)])
        assert _synchronous_commit() == "on"  # commits as durably as the outer work
    assert _values() == [1]
