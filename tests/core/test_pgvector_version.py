"""The pgvector version: what ``memoryhub.db`` reports to the search code, and
the start-up warning (``memoryhub.W001``) when it predates iterative scans."""

import importlib
import logging

import pytest
from django.core.checks import run_checks
from django.db import connection

from memoryhub import checks, db

pytestmark = pytest.mark.django_db


@pytest.fixture
def forget_version(monkeypatch):
    """Each test reads the version afresh (the module keeps it per process)."""
    monkeypatch.setattr(db, "_pgvector_versions", {})


def _old_pgvector(monkeypatch, installed=(0, 6, 2), available=None):
    monkeypatch.setattr(db, "pgvector_version", lambda using="default": installed)
    if available is not None:
        monkeypatch.setattr(checks, "_available_pgvector", lambda using: available)


def test_versions_parse_to_comparable_tuples():
    assert db.parse_version("0.8.5") == (0, 8, 5)
    assert db.parse_version("0.6.2") < db.ITERATIVE_SCAN_SINCE <= (0, 8, 0)
    assert db.parse_version("0.10.0-dev") == (0, 10, 0)
    assert db.parse_version("1.0") > (0, 8, 5)


def test_the_embedded_server_has_pgvector_0_8_with_iterative_scans(forget_version):
    """The suite's server is the embedded one (or CI's pgvector >= 0.8)."""
    version = db.pgvector_version()
    assert version >= (0, 8)
    assert db.supports_iterative_scan() is True
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.iterative_scan = strict_order")
        cursor.execute("SHOW hnsw.iterative_scan")
        assert cursor.fetchone() == ("strict_order",)


def test_the_version_is_read_once_per_process(
    forget_version, django_assert_num_queries
):
    with django_assert_num_queries(1):
        first = db.pgvector_version()
        assert db.pgvector_version() == first
        assert db.supports_iterative_scan()


def test_no_warning_with_pgvector_0_8(forget_version):
    assert checks.check_pgvector_version(None, databases=["default"]) == []
    assert checks.old_pgvector_problem() is None


def test_an_old_extension_on_a_new_server_is_told_to_migrate(monkeypatch):
    """The server has 0.8 (the real one), the database's extension 0.6.2."""
    _old_pgvector(monkeypatch)
    (warning,) = checks.check_pgvector_version(None, databases=["default"])
    assert warning.id == "memoryhub.W001"
    assert warning.level == logging.WARNING
    message = warning.msg
    assert "pgvector (the `vector` extension) is 0.6.2" in message
    assert "iterative index scans" in message and "exact scan" in message
    assert "The server already has pgvector 0.8." in message
    assert "run `manage.py migrate`" in message
    assert "ALTER EXTENSION vector UPDATE" in message
    assert db.supports_iterative_scan() is False


def test_an_old_pgvector_on_the_server_is_told_how_to_install_one(monkeypatch):
    _old_pgvector(monkeypatch, installed=(0, 7, 4), available=(0, 7, 4))
    (warning,) = checks.check_pgvector_version(None, databases=["default"])
    assert "is 0.7.4" in warning.msg
    assert "Install pgvector 0.8 or later on the server" in warning.msg
    assert "pgvector/pgvector:pg17" in warning.msg
    assert "ALTER EXTENSION vector UPDATE;" in warning.msg


def test_the_warning_is_a_database_check_that_migrate_runs(monkeypatch):
    """``manage.py check`` without databases stays offline; with them it warns."""
    _old_pgvector(monkeypatch)
    assert checks.check_pgvector_version(None, databases=None) == []
    issues = run_checks(databases=["default"], tags=["database"])
    assert "memoryhub.W001" in [issue.id for issue in issues]


def test_a_missing_extension_is_the_error_not_this_warning(monkeypatch):
    _old_pgvector(monkeypatch, installed=None)
    assert checks.old_pgvector_problem() is None


def test_the_web_process_logs_the_warning_and_serves(monkeypatch, caplog):
    _old_pgvector(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="memoryhub.checks"):
        checks.exit_if_no_pgvector(exit_code=4)  # no SystemExit
    assert "is 0.6.2" in caplog.text


def test_the_update_migration_can_run_on_a_current_extension():
    """Its statement is a no-op once the extension is current (run twice)."""
    migration = importlib.import_module("memories.migrations.0014_pgvector_update")
    with connection.cursor() as cursor:
        for _ in range(2):
            cursor.execute(migration.UPDATE)
        cursor.execute(
            "SELECT extversion = default_version FROM pg_extension"
            " JOIN pg_available_extensions ON name = extname WHERE extname = 'vector'"
        )
        assert cursor.fetchone() == (True,)
