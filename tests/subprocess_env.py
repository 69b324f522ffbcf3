"""Environment for child processes (manage.py, Celery workers) that must use the
test database of this pytest process rather than the quickstart's."""

import os
from urllib.parse import quote

from django.db import connection


def test_database_url() -> str:
    """A ``DATABASE_URL`` for the database the tests are using right now."""
    params = connection.settings_dict
    host = params.get("HOST") or "localhost"
    user = quote(params.get("USER") or "postgres")
    password = params.get("PASSWORD") or ""
    auth = f"{user}:{quote(password)}@" if password else f"{user}@"
    name = quote(params["NAME"])
    if host.startswith("/"):  # Unix socket directory (the embedded server)
        return f"postgresql://{auth}/{name}?host={quote(host, safe='')}"
    port = params.get("PORT") or 5432
    return f"postgresql://{auth}{host}:{port}/{name}"


def child_env(**overrides: str) -> dict[str, str]:
    """This process's environment, pointed at the test database."""
    return {**os.environ, "DATABASE_URL": test_database_url(), **overrides}
