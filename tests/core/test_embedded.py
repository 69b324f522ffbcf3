"""The embedded PostgreSQL: server settings applied by ``memoryhub.embedded``."""

import psycopg
import pytest
from django.db import connection

from memoryhub import embedded


@pytest.mark.django_db
def test_the_test_server_runs_with_the_embedded_settings():
    """Reloadable settings apply at once; shared_buffers after a restart."""
    with connection.cursor() as cursor:
        for name in ("max_wal_size", "maintenance_work_mem", "checkpoint_timeout"):
            cursor.execute(f"SHOW {name}")
            assert cursor.fetchone()[0] == embedded.SERVER_SETTINGS[name]


@pytest.mark.slow
def test_a_new_server_gets_its_shared_buffers_by_a_restart(tmp_path, monkeypatch):
    """Sole user of a fresh server: the restart applies shared_buffers now."""
    monkeypatch.setenv("MEMORYHUB_EMBEDDED_SHARED_BUFFERS", "256MB")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    url = embedded.embedded_database_url(tmp_path / "pgdata")
    import pgserver

    server = pgserver.get_server(tmp_path / "pgdata")
    try:
        with psycopg.connect(url) as conn:
            assert conn.execute("SHOW shared_buffers").fetchone()[0] == "256MB"
            assert conn.execute(
                "SELECT count(*) FROM pg_settings WHERE pending_restart"
            ).fetchone() == (0,)
        assert embedded.embedded_database_url(tmp_path / "pgdata") == url
    finally:
        server.cleanup()
