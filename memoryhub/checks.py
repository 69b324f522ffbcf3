"""Start-up checks: refuse to run on a PostgreSQL without pgvector."""

from django.core.checks import Error, register
from django.db import connection
from django.db.utils import OperationalError


def pgvector_problem() -> str | None:
    """A message explaining why the database cannot serve MemoryHub, or None."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'vector'),"
                " (SELECT default_version FROM pg_available_extensions"
                "  WHERE name = 'vector')"
            )
            installed, available = cursor.fetchone()
    except OperationalError as exc:
        return f"cannot connect to the database at DATABASE_URL: {exc}".strip()
    if installed or available:
        return None
    return (
        "The PostgreSQL server at DATABASE_URL has no `vector` extension "
        "(pgvector), which MemoryHub needs for semantic search. Install pgvector "
        "on that server (https://github.com/pgvector/pgvector#installation) and "
        "run `CREATE EXTENSION vector;` in the database, or unset DATABASE_URL "
        "to use the embedded PostgreSQL 16 + pgvector that `make run` starts."
    )


@register("database", deploy=True)
def check_pgvector(app_configs, databases=None, **kwargs):
    """System check wrapper around :func:`pgvector_problem`."""
    if not databases or "default" not in databases:
        return []
    problem = pgvector_problem()
    return [Error(problem, id="memoryhub.E001")] if problem else []
