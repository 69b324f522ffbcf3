"""A web worker killed with SIGKILL in the middle of requests: gunicorn's
master starts another, the service answers again without anyone restarting
it, no acknowledged write is lost, and the request that was cut left all or
nothing (its transaction died with the worker's connection).

Real components only (``tests/live_hub.py``): a real gunicorn on its own
embedded PostgreSQL, in Prometheus's multiprocess mode: ``/metrics`` keeps
the dead worker's counters and forgets its pool.
"""

import signal
import threading
import time

import httpx
import psutil
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.live_hub import database_url, live_hub
from tests.plugin import LOG_MARKER  # the whole run's logs are scanned for it

pytestmark = pytest.mark.slow

MEMORIES = "/api/v1/spaces/default/memories/"
BATCH = 1000  # MEMORYHUB_MAX_BATCH: embedding alone takes longer than the wait


TOKEN = "kill-test-token"
POOL = 4  # connections per worker, all opened with the pool


def _worker_pids(master: int) -> set[int]:
    return {child.pid for child in psutil.Process(master).children()}


def _metrics(api: httpx.Client) -> dict[str, float]:
    """Sample name (+ labels) -> value, from the hub's /metrics."""
    text = api.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    return {
        sample.name + str(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _requests_counted(metrics: dict[str, float]) -> float:
    return sum(
        v for k, v in metrics.items() if k.startswith("memoryhub_http_requests_total")
    )


def test_a_killed_web_worker_is_replaced_and_cut_requests_leave_all_or_nothing(
    tmp_path,
):
    (tmp_path / "metrics").mkdir()
    with live_hub(
        tmp_path,
        MEMORYHUB_METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        MEMORYHUB_DB_POOL_MIN=str(POOL),
        MEMORYHUB_DB_POOL_MAX=str(POOL),
    ) as hub:
        api = hub.client(timeout=60)
        before = _metrics(api)
        assert before["memoryhub_db_pool_size[]"] == POOL
        acknowledged: list[str] = []
        cut: list[str] = []  # single writes whose answer never came
        stop = threading.Event()

        def writer(name: str) -> None:
            n = 0
            while not stop.is_set():
                try:
                    answer = api.post(
                        MEMORIES, json={"content": f"{name} fact {n} {LOG_MARKER}"}
                    )
                except httpx.TransportError:
                    cut.append(f"{name} fact {n} {LOG_MARKER}")
                else:
                    assert answer.status_code == 201, answer.text
                    acknowledged.append(answer.json()["id"])
                n += 1

        batch: dict = {}

        def send_batch() -> None:
            items = [
                {"content": f"batch fact {n} {LOG_MARKER}", "user_id": "batch-cut"}
                for n in range(BATCH)
            ]
            try:
                batch["answer"] = api.post(MEMORIES + "batch/", json={"items": items})
            except httpx.TransportError as exc:
                batch["error"] = exc

        (old_worker,) = _worker_pids(hub.web.pid)
        writers = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(2)]
        for thread in writers:
            thread.start()
        sender = threading.Thread(target=send_batch)
        sender.start()
        time.sleep(0.5)
        assert not batch, "the batch finished before the kill"
        psutil.Process(old_worker).send_signal(signal.SIGKILL)
        sender.join(timeout=60)
        assert "error" in batch, batch  # the batch's request was cut

        # The master replaces the worker; the same address answers again.
        began = time.monotonic()
        while time.monotonic() - began < 60:
            pids = _worker_pids(hub.web.pid)
            if pids and old_worker not in pids:
                try:
                    if api.get(MEMORIES).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            time.sleep(0.2)
        else:
            pytest.fail("no new worker answered within 60 s")
        recovered = len(acknowledged)
        time.sleep(1.5)  # writes go on through the new worker
        stop.set()
        for thread in writers:
            thread.join(timeout=60)
        assert len(acknowledged) > recovered, "no write succeeded after the kill"
        assert hub.web.poll() is None  # the master itself was never restarted
        after = _metrics(api)
        assert after["memoryhub_db_pool_size[]"] == POOL  # the dead pool is dropped
        assert _requests_counted(after) > _requests_counted(before) + len(acknowledged)

        for memory_id in acknowledged:
            assert api.get(f"{MEMORIES}{memory_id}/").status_code == 200, memory_id
        with psycopg.connect(database_url(hub.data, "hub")) as conn:
            (batched,) = conn.execute(
                "SELECT count(*) FROM memories_memory WHERE user_id = 'batch-cut'"
            ).fetchone()
            (orphans,) = conn.execute(
                "SELECT count(*) FROM memories_memory m WHERE NOT EXISTS "
                "(SELECT 1 FROM memories_memoryevent e WHERE e.memory_id = m.id)"
            ).fetchone()
            (total,) = conn.execute("SELECT count(*) FROM memories_memory").fetchone()
        assert batched in (0, BATCH)  # all or nothing
        assert orphans == 0  # no memory without its history row
        # The cut single writes are there or not, each whole; nothing else is.
        assert len(acknowledged) + batched <= total
        assert total <= len(acknowledged) + batched + len(cut)
        log = hub.log.read_text()
        assert f"Worker (pid:{old_worker}) was sent SIGKILL" in log, log[-3000:]
        assert "Traceback" not in log, log[-3000:]
