"""Hub to hub: the ``mem0_platform`` backend against another MemoryHub — a
separate process (``manage.py runserver``) with its own embedded PostgreSQL,
its own secrets and its own key — through the real ``mem0.MemoryClient``,
including the peer crashing (SIGKILL) and coming back on the same data, and
the peer's change feed (``get_all`` by ``updated_at``).
"""

import base64
import os
import secrets
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import httpx
import pytest

from accounts.actors import SYSTEM
from memories import services as memory_services
from memories.services import erasure
from routing import selectors, services
from routing.backends import mem0_platform
from routing.backends.changes import InvalidCursor, cursor_encode
from routing.backends.registry import adapter_for
from routing.breaker import breaker_for
from routing.models import ExternalRef, OutboxEntry, OutboxState
from tests.factories import BackendFactory, make_space, make_team
from tests.routing_helpers import add, deliver_all, drain, free_port

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("fresh_routing"),
]


class Peer:
    """A second MemoryHub: own data directory, secrets and key; one process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / "peer.log"
        self.proc: subprocess.Popen | None = None
        keep = {
            k: v
            for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "MEMORYHUB_TEST_DB_NAME", "XDG_RUNTIME_DIR")
        }
        self.env = {
            **keep,
            "MEMORYHUB_EMBEDDED_PGDATA": str(root / "pgdata"),
            "MEMORYHUB_VAR_DIR": str(root / "var"),
            "MEMORYHUB_SECRET_KEY": secrets.token_urlsafe(32),
            "MEMORYHUB_MASTER_KEYS": "peer1:"
            + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
            "MEMORYHUB_LOG_LEVEL": "WARNING",
        }

    def manage(self, *args: str) -> str:
        """Run ``manage.py`` against the peer; returns its stdout."""
        done = subprocess.run(  # noqa: S603 (fixed argv)
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def bootstrap(self) -> str:
        """Migrate, create the demo team and space, and a key limited to it."""
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("bootstrap")
        out = self.manage("create_api_key", "--team", "demo", "--space", "default")
        return out.strip().splitlines()[-1].strip()

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 (fixed argv)
                [
                    sys.executable,
                    "manage.py",
                    "runserver",
                    "--noreload",
                    f"127.0.0.1:{self.port}",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # /readyz loads the peer's embedder, so the first replicated write is
        # not slowed by a cold model on a busy machine.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=60).status_code == 200:
                    return
            time.sleep(0.3)
        raise AssertionError(f"peer not ready:\n{self.log.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGINT) -> None:
        """SIGINT lets it stop its PostgreSQL; SIGKILL is a crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def stop_database(self) -> None:
        """Stop the peer's PostgreSQL if a crash left it running."""
        pid_file = self.root / "pgdata" / "postmaster.pid"
        with suppress(FileNotFoundError, ValueError, ProcessLookupError):
            os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGTERM)

    def contents(self, key: str) -> list[str]:
        """The texts the peer holds in its space (through its native API)."""
        response = httpx.get(
            f"{self.url}/api/v1/spaces/default/memories/",
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return sorted(m["content"] for m in response.json()["results"])


@pytest.fixture
def peer(tmp_path):
    hub = Peer(tmp_path)
    try:
        yield hub
    finally:
        hub.stop()
        hub.stop_database()


def peer_backend(peer, key: str):
    """The live peer hub as a ``mem0_platform`` backend named ``peer``."""
    return BackendFactory(
        name="peer",
        kind="mem0_platform",
        max_retries=0,
        timeout_seconds=30,
        config={"host": peer.url, "space": "default"},
        secrets={"api_key": key},
    )


def test_writes_replicate_to_a_separate_hub_and_survive_its_crash(peer, breaker_clock):
    key = peer.bootstrap()
    peer.start()
    space = make_space(make_team("origin"), "default")
    backend = peer_backend(peer, key)
    services.rule_create(
        actor=SYSTEM,
        name="to-peer",
        match={"spaces": ["origin/*"]},
        write_backends=["peer"],
        read_strategy="failover",
        read_backends=["peer", "local"],
    )
    # Deliveries run after commit (an eager Celery task in tests).
    first = add(space, "ships to the peer hub", user_id="bob")
    assert not OutboxEntry.objects.exclude(state=OutboxState.DELIVERED).exists()
    assert peer.contents(key) == ["ships to the peer hub"]
    found, info = selectors.route_search(
        actor=SYSTEM, space=space, query="peer hub", filters={"user_id": "bob"}
    )
    assert [m.pk for m in found] == [first.pk]
    assert (info["backends"][0]["backend"], info["backends"][0]["status"]) == (
        "peer",
        "ok",
    )

    # The peer crashes: writes wait in the outbox, nothing is lost.
    peer.stop(signal.SIGKILL)
    later = add(space, "written while the peer was down", user_id="bob")
    memory_services.memory_update(
        actor=SYSTEM, space=space, memory_id=first.pk, content="changed offline"
    )
    waiting = OutboxEntry.objects.filter(state=OutboxState.PENDING)
    assert waiting.count() == 2 and all(e.attempts == 1 for e in waiting)
    assert not ExternalRef.objects.filter(memory_id=later.pk).exists()
    # Reads fail over to the local store meanwhile.
    found, info = selectors.route_search(
        actor=SYSTEM, space=space, query="peer", filters={"user_id": "bob"}
    )
    assert {m.pk for m in found} == {first.pk, later.pk}
    assert [b["status"] for b in info["backends"]] == ["failed", "ok"]

    # Back on the same data directory: every write arrives, in its final state.
    peer.start()
    breaker = breaker_for(backend)
    breaker_clock.advance(breaker.cooldown)
    assert deliver_all() == ["delivered", "delivered"]
    assert peer.contents(key) == ["changed offline", "written while the peer was down"]
    assert not OutboxEntry.objects.exclude(state=OutboxState.DELIVERED).exists()


def test_the_peer_change_feed_lists_updates_a_bounded_page_at_a_time(peer, monkeypatch):
    key = peer.bootstrap()
    peer.start()
    space = make_space(make_team("origin"), "default")
    backend = peer_backend(peer, key)
    services.rule_create(
        actor=SYSTEM,
        name="to-peer",
        match={"spaces": ["origin/*"]},
        write_backends=["peer"],
    )
    memories = [add(space, f"peer fact {n}", seed=n + 1) for n in range(5)]
    adapter = adapter_for(backend)
    changes, pages, cursor = drain(adapter, limit=2)
    assert pages == 3
    assert sorted(c.memory_id for c in changes) == sorted(str(m.pk) for m in memories)
    assert {c.op for c in changes} == {"upsert"}
    assert "peer fact" not in cursor
    assert drain(adapter, cursor)[0] == []

    memory_services.memory_update(
        actor=SYSTEM, space=space, memory_id=memories[1].pk, content="rephrased"
    )
    changes, _, cursor = drain(adapter, cursor)
    assert [c.memory_id for c in changes] == [str(memories[1].pk)]
    # The platform API lists live memories only: deletions are not reported.
    erasure.memory_delete(actor=SYSTEM, space=space, memory_id=memories[2].pk)
    assert drain(adapter, cursor)[0] == []

    # More changes than one scan may hold: the time range is bisected first.
    monkeypatch.setattr(mem0_platform, "SCAN_LIMIT", 2)
    changes, _, _ = drain(adapter, limit=1)
    live = [m for m in memories if m.pk != memories[2].pk]
    assert sorted(c.memory_id for c in changes) == sorted(str(m.pk) for m in live)

    for bad in ("garbage", cursor_encode("local", {}), cursor[:-4]):
        with pytest.raises(InvalidCursor):
            adapter.changes_since(bad)


def test_a_sync_job_keeps_a_space_and_a_peer_hub_in_step_both_ways(peer):
    """Push a space to a second live MemoryHub, adopt what others wrote there,
    follow edits on both sides; repeated runs change nothing."""
    from mem0 import MemoryClient

    from routing.models import SyncRunState
    from routing.sync import services as sync
    from routing.sync.engine import run_continue, run_start

    key = peer.bootstrap()
    peer.start()
    space = make_space(make_team("syncers"), "default")
    mine = [add(space, f"local fact {n}", seed=n + 1, user_id="ana") for n in range(3)]
    backend = peer_backend(peer, key)
    backend.allows_plaintext = True
    backend.save()
    job = sync.sync_job_create(
        actor=SYSTEM, name="peer", space=space, backend=backend, direction="both"
    )

    def run():
        started = run_start(job_pk=job.pk, trigger="manual")
        done = run_continue(run_pk=started.pk)
        assert done.state == SyncRunState.SUCCEEDED, (done.message, done.error_items)
        return done

    first = run()
    assert first.created == 3  # pushed
    assert peer.contents(key) == ["local fact 0", "local fact 1", "local fact 2"]

    # Another app writes to the peer through mem0's client; the hub adopts it.
    other = MemoryClient(api_key=key, host=peer.url)
    other.add("peer-only fact", user_id="bo", infer=False)
    second = run()
    assert second.created == 1, second.counts()
    adopted = ExternalRef.objects.filter(backend=backend).count()
    assert adopted == 4
    from memories.encryption.sealing import memory_content
    from memories.models import Memory

    texts = sorted(memory_content(m, space) for m in Memory.objects.filter(space=space))
    assert texts == ["local fact 0", "local fact 1", "local fact 2", "peer-only fact"]

    # An edit here reaches the peer; repeated runs change nothing.
    memory_services.memory_update(
        actor=SYSTEM, space=space, memory_id=mine[0].pk, content="local fact zero"
    )
    third = run()
    assert third.updated == 1, third.counts()
    assert "local fact zero" in peer.contents(key)
    for _ in range(2):
        quiet = run()
        assert (quiet.created, quiet.updated, quiet.conflicts) == (0, 0, 0), (
            quiet.counts()
        )
    assert len(peer.contents(key)) == 4
    assert Memory.objects.filter(space=space).count() == 4
