"""The database engine's check of pooled connections (``memoryhub/postgres``).

A connection that went back to the pool recently and whose socket has
nothing to read is handed out without a round trip; a dropped one (here
terminated by the server, as an administrator or a restart does) is found
out, discarded and replaced before any query of the request sees it.
Real PostgreSQL (the suite's), a real psycopg pool; the protocol traffic is
read from libpq's own trace.
"""

import contextlib
import time

import psycopg
import pytest
from django.conf import settings
from django.db import connection, connections
from django.test import override_settings

from memoryhub.postgres import base
from tests.db_support import wait_until_session_ended

pytestmark = pytest.mark.django_db


@contextlib.contextmanager
def pooled_wrapper(size: int = 1, alias: str = "pool_check_test"):
    """A second Django connection to the test database, pooled (``size``
    connections: with one, a request gets the same connection every time)."""
    settings_dict = {
        **connection.settings_dict,
        "OPTIONS": {
            **connection.settings_dict["OPTIONS"],
            "pool": {"min_size": size, "max_size": size, "timeout": 5},
        },
        "CONN_HEALTH_CHECKS": False,
        "CONN_MAX_AGE": 0,
    }
    wrapper = base.DatabaseWrapper(settings_dict, alias=alias)
    connections[alias] = wrapper  # django.contrib.postgres looks it up by alias
    try:
        yield wrapper
    finally:
        wrapper.close()
        wrapper.close_pool()
        del connections[alias]


@contextlib.contextmanager
def traced(conn, tmp_path):
    """libpq's trace of ``conn`` while the block runs, as text afterwards."""
    path = tmp_path / f"trace-{id(conn)}-{time.monotonic_ns()}"
    with path.open("w") as out:
        conn.pgconn.trace(out.fileno())
        lines: list[str] = []
        try:
            yield lines
        finally:
            conn.pgconn.untrace()
    lines.extend(path.read_text().splitlines())


def terminate(pid: int) -> None:
    """``pg_terminate_backend`` from a connection of its own; wait till it is gone."""
    params = connection.get_connection_params()
    params.pop("pool", None)
    with psycopg.connect(**params, autocommit=True) as admin, admin.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert cursor.fetchone()[0]
        wait_until_session_ended(cursor, pid)


def checkout(wrapper):
    """The psycopg connection a request would get (and its server pid)."""
    wrapper.ensure_connection()
    return wrapper.connection, wrapper.connection.info.backend_pid


def test_a_recently_returned_quiet_connection_is_handed_out_without_a_round_trip(
    tmp_path,
):
    with pooled_wrapper() as wrapper:
        conn, pid = checkout(wrapper)
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
        wrapper.close()  # back to the pool
        with traced(conn, tmp_path) as trace:
            again, again_pid = checkout(wrapper)
        assert again is conn and again_pid == pid
        assert trace == []  # nothing sent, nothing received
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 2")
            assert cursor.fetchone() == (2,)


def test_a_connection_the_server_dropped_is_replaced_before_the_request_uses_it(
    tmp_path,
):
    with pooled_wrapper() as wrapper:
        conn, pid = checkout(wrapper)
        wrapper.close()
        terminate(pid)
        replacement, new_pid = checkout(wrapper)
        assert new_pid != pid and not replacement.closed
        with wrapper.cursor() as cursor:  # the request's first query works
            cursor.execute("SELECT 3")
            assert cursor.fetchone() == (3,)
        assert conn.closed  # the dropped one was discarded


def test_every_dropped_connection_in_the_pool_is_replaced():
    with pooled_wrapper(size=2) as wrapper:
        _first, first_pid = checkout(wrapper)
        second = wrapper.pool.getconn()  # two out at once: the pool holds both
        second_pid = second.info.backend_pid
        wrapper.close()
        base._returned_at[second] = time.monotonic()
        wrapper.pool.putconn(second)
        terminate(first_pid)
        terminate(second_pid)
        _conn, pid = checkout(wrapper)
        assert pid not in (first_pid, second_pid)
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 4")
            assert cursor.fetchone() == (4,)


def test_a_connection_idle_for_longer_than_the_limit_is_asked(tmp_path):
    with pooled_wrapper() as wrapper:
        conn, pid = checkout(wrapper)
        wrapper.close()
        with override_settings(DB_CHECK_IDLE_SECONDS=0), traced(conn, tmp_path) as t:
            again, again_pid = checkout(wrapper)
        assert again is conn and again_pid == pid
        # The pool's check: an empty query and its answer.
        assert any("Query" in line for line in t), t
        assert any("EmptyQueryResponse" in line for line in t), t


def test_quiet_since_returned():
    params = connection.get_connection_params()
    params.pop("pool", None)
    with psycopg.connect(**params, autocommit=True) as conn:
        assert not base.quiet_since_returned(conn)  # never returned: ask
        now = time.monotonic()
        base._returned_at[conn] = now
        assert base.quiet_since_returned(conn, now=now + 1)
        assert not base.quiet_since_returned(
            conn, now=now + settings.DB_CHECK_IDLE_SECONDS + 1
        )  # idle too long
        conn.execute("BEGIN")
        assert not base.quiet_since_returned(conn, now=now)  # in a transaction
        conn.execute("ROLLBACK")
        assert base.quiet_since_returned(conn, now=now)
        terminate(conn.info.backend_pid)
        deadline = time.monotonic() + 5
        while base.quiet_since_returned(conn, now=now):  # the FATAL arrives
            assert time.monotonic() < deadline, "the socket never became readable"
            time.sleep(0.01)
    assert not base.quiet_since_returned(conn, now=now)  # closed
