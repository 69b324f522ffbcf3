"""The database dies under load and comes back: clients get 503s that say
so, never a 500; no acknowledged write is lost; the web process recovers by
itself.

Real components only (``tests/live_hub.py``): an embedded PostgreSQL of its
own whose postmaster is killed with SIGKILL, and a real gunicorn serving
MemoryHub on 127.0.0.1 with the production connection pool.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from memoryhub.outage import CODE
from tests.live_hub import database_url, kill_database, live_hub, start_database


@pytest.fixture
def hub(tmp_path):
    with live_hub(tmp_path) as hub:
        yield hub


def test_killing_the_database_gives_503s_loses_nothing_and_recovers(hub):
    api = hub.client(timeout=15)
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
    kill_database(hub.data)
    outage_started = time.monotonic()
    while time.monotonic() - outage_started < 3:  # reads during the outage
        search = api.post(
            "/api/v1/spaces/default/search/", json={"query": "outage", "top_k": 3}
        )
        statuses.append(search.status_code)
        time.sleep(0.1)
    assert httpx.get(hub.url + "/healthz").status_code == 200
    ready = httpx.get(hub.url + "/readyz")
    assert ready.status_code == 503 and "database" in ready.text
    start_database(hub.data)  # the database comes back; the web process is not touched
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
    assert hub.web.poll() is None  # never restarted
    assert 503 in statuses and set(statuses) <= {200, 201, 503}, sorted(set(statuses))
    assert all(body["code"] == CODE for body in bodies)
    assert "database is unavailable" in bodies[0]["detail"]
    # Every acknowledged write is there.
    for memory_id in acknowledged:
        assert api.get(f"{memories}{memory_id}/").status_code == 200, memory_id
    assert len(acknowledged) > 10
    log = hub.log.read_text()
    assert "Traceback" not in log, log[-3000:]
    assert "database unavailable" in log


def test_connections_the_server_dropped_are_replaced_without_a_failed_request(
    tmp_path,
):
    """Pooled connections go without a check query while they are fresh
    (``memoryhub/postgres``); the ones the server dropped — terminated by an
    administrator, or all of them by a restart while no request came — are
    still found out and replaced before a request uses them: no 503 at all.
    The idle limit is raised so that only the socket check stands guard."""
    with live_hub(tmp_path, MEMORYHUB_DB_CHECK_IDLE_SECONDS="600") as hub:
        api = hub.client(timeout=15)

        def burst() -> list[int]:
            def requests(n: int) -> list[int]:
                statuses = []
                for i in range(8):
                    if i % 2:
                        response = api.post(
                            "/api/v1/spaces/default/search/",
                            json={"query": f"fact {n}", "top_k": 3},
                        )
                    else:
                        response = api.get("/api/v1/spaces/default/memories/")
                    statuses.append(response.status_code)
                return statuses

            with ThreadPoolExecutor(4) as pool:
                return [s for batch in pool.map(requests, range(4)) for s in batch]

        assert (
            api.post(
                "/api/v1/spaces/default/memories/", json={"content": "a fact"}
            ).status_code
            == 201
        )
        assert set(burst()) == {200}  # the pool holds several connections now
        with psycopg.connect(database_url(hub.data, "hub"), autocommit=True) as admin:
            terminated = admin.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) "
                "FROM pg_stat_activity "
                "WHERE datname = 'hub' AND pid <> pg_backend_pid()"
            ).fetchone()[0]
        assert terminated >= 2
        time.sleep(0.2)
        assert set(burst()) == {200}
        kill_database(hub.data)
        start_database(hub.data)
        began = time.monotonic()
        while True:  # back: it takes connections (no request in the meantime)
            try:
                psycopg.connect(database_url(hub.data, "hub")).close()
                break
            except psycopg.OperationalError:
                assert time.monotonic() - began < 30, "the database did not restart"
                time.sleep(0.1)
        print(f"restarted, accepting after {time.monotonic() - began:.1f} s")
        assert set(burst()) == {200}
        assert hub.web.poll() is None
        assert "database unavailable" not in hub.log.read_text()
