"""Start-up checks: refuse to run on a PostgreSQL without pgvector.

The same message reaches people through every entry point: ``make run``
(launcher pre-flight, exit 2), ``manage.py migrate`` (a ``pre_migrate`` hook,
before ``CREATE EXTENSION vector`` would fail with a bare SQL error), the web
process (:mod:`memoryhub.wsgi` exits before serving) and
``manage.py check --deploy``.
"""

import logging
import sys

from django.core.checks import Error, register
from django.core.management.base import CommandError
from django.db import connections
from django.db.utils import OperationalError

logger = logging.getLogger(__name__)


MISSING = (
    "The PostgreSQL server at DATABASE_URL has no `vector` extension "
    "(pgvector), which MemoryHub needs for semantic search. Install pgvector "
    "on that server (https://github.com/pgvector/pgvector#installation) and "
    "run `CREATE EXTENSION vector;` in the database, or unset DATABASE_URL "
    "to use the embedded PostgreSQL 16 + pgvector that `make run` starts."
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


def exit_if_no_pgvector(*, exit_code: int) -> None:
    """Print the pgvector message to stderr and exit if the extension is missing.

    For server processes: gunicorn halts with "App failed to load" when a
    worker exits with code 4, instead of serving 500s for every search. An
    unreachable database does *not* stop the process: gunicorn would then
    halt every worker over a passing outage, while ``/readyz`` reports it.
    """
    try:
        has_vector = _has_pgvector("default")
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
