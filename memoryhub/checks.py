"""Start-up checks: refuse to run on a PostgreSQL without pgvector, and warn
about a pgvector older than 0.8.

The same message reaches people through every entry point: ``make run``
(launcher pre-flight, exit 2), ``manage.py migrate`` (a ``pre_migrate`` hook,
before ``CREATE EXTENSION vector`` would fail with a bare SQL error), the web
process (:mod:`memoryhub.wsgi` exits before serving) and
``manage.py check --deploy``.

A pgvector before 0.8 still works, with slower filtered searches: the system
check ``memoryhub.W001`` (run by ``manage.py migrate`` and ``manage.py check
--database default``) and a warning in each web process's log say so and how
to upgrade.
"""

import logging
import sys

from django.core.checks import Error, register
from django.core.checks import Warning as CheckWarning
from django.core.management.base import CommandError
from django.db import connections
from django.db.utils import OperationalError

from memoryhub import db

logger = logging.getLogger(__name__)


MISSING = (
    "The PostgreSQL server at DATABASE_URL has no `vector` extension "
    "(pgvector), which MemoryHub needs for semantic search. Install pgvector "
    "on that server (https://github.com/pgvector/pgvector#installation) and "
    "run `CREATE EXTENSION vector;` in the database, or unset DATABASE_URL "
    "to use the embedded PostgreSQL 16 + pgvector that `make run` starts."
)

OLD_PGVECTOR = (
    "The database's pgvector (the `vector` extension) is {installed}; MemoryHub "
    "wants 0.8 or later, whose iterative index scans serve filtered searches. "
    "Until then a search filtered by user, agent, app, run or metadata can come "
    "back short from the HNSW index and is re-run as an exact scan of the "
    "matching rows: complete results, but slower in large spaces. Before 0.7 "
    "there are no binary codes either (migration 0016 skips them), and a "
    "user's search reads their whole embeddings. {how} If `manage.py "
    "search_index status` then reports the binary codes missing, run `manage.py "
    "search_index codes`."
)
UPDATE_EXTENSION = (
    "The server already has pgvector {available}: run `manage.py migrate`, which "
    "runs `ALTER EXTENSION vector UPDATE` (that needs the extension's owner or a "
    "superuser; otherwise run it as one), then restart MemoryHub's processes."
)
INSTALL_PGVECTOR = (
    "Install pgvector 0.8 or later on the server (the `pgvector/pgvector:pg17` "
    "image has it; https://github.com/pgvector/pgvector#installation), run "
    "`ALTER EXTENSION vector UPDATE;` in the database (or `manage.py migrate`), "
    "then restart MemoryHub's processes."
)


def _has_pgvector(using: str) -> bool:
    """Whether ``vector`` is installed or installable (raises OperationalError)."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'vector'),"
            " (SELECT default_version FROM pg_available_extensions"
            "  WHERE name = 'vector')"
        )
        installed, available = cursor.fetchone()
    return bool(installed or available)


def pgvector_problem(using: str = "default") -> str | None:
    """A message explaining why the database cannot serve MemoryHub, or None."""
    try:
        has_vector = _has_pgvector(using)
    except OperationalError as exc:
        return f"cannot connect to the database at DATABASE_URL: {exc}".strip()
    return None if has_vector else MISSING


def _available_pgvector(using: str) -> tuple[int, ...] | None:
    """The pgvector version the server could update the extension to."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"
        )
        row = cursor.fetchone()
    return db.parse_version(row[0]) if row and row[0] else None


def old_pgvector_problem(using: str = "default") -> str | None:
    """A message if the database's pgvector predates iterative index scans.

    None when it is recent, and when :func:`pgvector_problem` has the worse
    news (no extension, no connection).
    """
    try:
        installed = db.pgvector_version(using)
        if installed is None or installed >= db.ITERATIVE_SCAN_SINCE:
            return None
        available = _available_pgvector(using)
    except OperationalError:
        return None
    if available is not None and available >= db.ITERATIVE_SCAN_SINCE:
        how = UPDATE_EXTENSION.format(available=_dotted(available))
    else:
        how = INSTALL_PGVECTOR
    return OLD_PGVECTOR.format(installed=_dotted(installed), how=how)


def _dotted(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version))


def exit_if_no_pgvector(*, exit_code: int) -> None:
    """Print the pgvector message to stderr and exit if the extension is missing.

    For server processes: gunicorn halts with "App failed to load" when a
    worker exits with code 4, instead of serving 500s for every search. An
    unreachable database does *not* stop the process: gunicorn would then
    halt every worker over a passing outage, while ``/readyz`` reports it.
    A pgvector older than 0.8 is logged as a warning and served.
    """
    try:
        has_vector = _has_pgvector("default")
        old = old_pgvector_problem("default") if has_vector else None
    except OperationalError as exc:
        logger.warning("database unreachable at start-up: %s", exc)
        return
    finally:
        # Hand the connection back before serving (or forking) starts.
        connections.close_all()
    if not has_vector:
        sys.stderr.write(f"MemoryHub cannot start: {MISSING}\n")
        sys.stderr.flush()
        raise SystemExit(exit_code)
    if old:
        logger.warning("%s", old)


def refuse_migrate_without_pgvector(sender, using: str = "default", **kwargs) -> None:
    """``pre_migrate`` receiver: stop ``migrate`` with the pgvector message."""
    problem = pgvector_problem(using)
    if problem:
        raise CommandError(problem)


@register("database", deploy=True)
def check_pgvector(app_configs, databases=None, **kwargs):
    """System check wrapper around :func:`pgvector_problem`."""
    if not databases or "default" not in databases:
        return []
    problem = pgvector_problem()
    return [Error(problem, id="memoryhub.E001")] if problem else []


@register("database")
def check_pgvector_version(app_configs, databases=None, **kwargs):
    """System check wrapper around :func:`old_pgvector_problem` (``migrate``
    runs it, so every deployment's migration step shows it)."""
    if not databases or "default" not in databases:
        return []
    problem = old_pgvector_problem()
    return [CheckWarning(problem, id="memoryhub.W001")] if problem else []
