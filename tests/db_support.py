"""Waiting on the database server from tests."""

import time


def wait_until_session_ended(cursor, pid: int, timeout: float = 10) -> None:
    """Wait until the server has ended backend ``pid`` (its session and
    session locks go a moment after the client hangs up or it is
    terminated). ``cursor``: a Django or psycopg cursor of another session."""
    deadline = time.monotonic() + timeout
    while True:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        if cursor.fetchone()[0] == 0:
            return
        assert time.monotonic() < deadline, f"backend {pid} still there"
        time.sleep(0.02)
