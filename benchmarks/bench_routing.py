"""What does routing cost? Rule match, strategies, ref mapping, outbox lag.

Three measurements, on real backends (the official MCP memory server over
stdio, an in-process mem0 ``Memory``, MemoryHub's own store):

1. **Routing overhead**, reads and writes. Every adapter call is timed
   (``routing.calls._translate`` wrapped), so "time in MemoryHub minus time in
   the backend" is measured per operation. Reads: ``memory_search`` routed by
   a ``primary`` rule to one backend; *routing layer* = rule match + strategy
   (breaker, call pool, timeout handling) + mapping hits back through
   ``ExternalRef`` + fusion; *MemoryHub total* adds loading, decrypting and
   auditing the canonical rows (the same work a local search does). Writes:
   rule match + outbox rows inside the write transaction, and the delivery
   (lock, canonical read and decrypt, ``ExternalRef`` bookkeeping) minus the
   backend's own time. Targets: p50 < 1 ms, p99 < 3 ms.
2. **Fan-out**: a ``fanout`` rule over mem0, the local store and a backend
   with ``inject_latency_ms``, against each backend alone.
3. **Outbox delivery lag** under a steady write load with a real Celery
   worker (a separate process, Redis at 127.0.0.1): the time from the write's
   outbox row to the copy existing in the backend (``ExternalRef`` created).
   Target p99 < 2 s.

Isolation: its own embedded PostgreSQL (``var/bench-routing-pgdata``, or
``--pgdata``), Redis database 12 (``--redis``), backend files in a temp
directory, traffic on 127.0.0.1 only; every loop is bounded by a count.

    .venv/bin/python benchmarks/bench_routing.py [--reads 300] [--writes 300]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import harness
from benchmarks.harness import md_table, progress

DEFAULT_PGDATA = harness.REPO / "var" / "bench-routing-pgdata"
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"


# --- instrumentation -----------------------------------------------------------------


class Clock:
    """Accumulates seconds spent in named sections (thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spent: dict[str, float] = {}

    def reset(self) -> None:
        with self.lock:
            self.spent = {}

    def add(self, name: str, seconds: float) -> None:
        with self.lock:
            self.spent[name] = self.spent.get(name, 0.0) + seconds

    def get(self, name: str) -> float:
        return self.spent.get(name, 0.0)

    def wrap(self, owner, attr: str, name: str) -> None:
        """Time every call of ``owner.attr`` under ``name``."""
        original = getattr(owner, attr)

        def timed(*args, **kwargs):
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - began)

        setattr(owner, attr, timed)


CLOCK = Clock()


def instrument() -> None:
    """Wrap the adapter call and the routing sections (this process only)."""
    from routing import calls, outbox, selectors, strategies
    from routing import services as routing_services

    CLOCK.wrap(calls, "_translate", "backend")  # the adapter method itself
    CLOCK.wrap(selectors, "_plan_rule", "plan")
    CLOCK.wrap(selectors, "_memory_ids", "refs")
    CLOCK.wrap(selectors, "rrf_merge", "fuse")
    for strategy in strategies.STRATEGIES.values():
        CLOCK.wrap(strategy, "search", "strategy")
    # Memory writes reach the outbox through routing.adapter, which looks the
    # service up on the module at each call.
    CLOCK.wrap(routing_services, "outbox_enqueue_many", "enqueue")
    # Phases 1-2 deliver in this process; nothing goes to the broker.
    outbox.dispatch = lambda *args, **kwargs: None


def pcts(values: list[float]) -> tuple[float, float, float]:
    import numpy as np

    if not values:
        return (float("nan"),) * 3
    array = np.array(values) * 1000
    return tuple(float(np.percentile(array, q)) for q in (50, 95, 99))


# --- fixtures ---------------------------------------------------------------------------


def vector(seed: int) -> list[float]:
    import numpy as np

    values = np.random.default_rng(seed).normal(size=384)
    return list(values / np.linalg.norm(values))


def make_world(workdir: Path, stamp: str):
    """A team, three spaces and the backends (through the real services)."""
    from accounts.actors import SYSTEM
    from routing import services

    spaces, _ = harness.bootstrap_space(
        team_slug="bench", space_slugs=[f"rt-{stamp}", f"fan-{stamp}", f"lag-{stamp}"]
    )

    def mcp(name: str, **config):
        return services.backend_create(
            actor=SYSTEM,
            name=f"{name}-{stamp}",
            kind="mcp_memory",
            allows_plaintext=True,
            timeout_seconds=10,
            config={"memory_file": str(workdir / f"{name}.jsonl"), **config},
        )

    backends = {
        "graph": mcp("graph"),
        "slow": mcp("slow", inject_latency_ms=50),
        "lag": mcp("lag"),
        "oss": services.backend_create(
            actor=SYSTEM,
            name=f"oss-{stamp}",
            kind="mem0",
            allows_plaintext=True,
            timeout_seconds=30,
            config={
                "collection": f"bench_routing_{stamp}",
                "history_path": str(workdir / "mem0-history.db"),
            },
        ),
    }
    return spaces, backends


def rule(name: str, space, **fields):
    from accounts.actors import SYSTEM
    from routing import services

    return services.rule_create(
        actor=SYSTEM,
        name=name,
        match={
            "spaces": [f"{space.team.slug}/{space.slug}"],
            **fields.pop("match", {}),
        },
        **fields,
    )


def add(space, n: int, text: str):
    from accounts.actors import SYSTEM
    from memories import services as memory_services

    memory, _ = memory_services.memory_add(
        actor=SYSTEM,
        space=space,
        data={"content": text, "user_id": f"user-{n % 4}"},
        embedding=vector(n + 1),
    )
    return memory


def deliver_pending() -> None:
    from routing.models import OutboxEntry, OutboxState
    from routing.outbox import outbox_deliver

    pairs = set(
        OutboxEntry.objects.filter(state=OutboxState.PENDING).values_list(
            "memory_id", "backend_id"
        )
    )
    for memory_id, backend_id in pairs:
        outbox_deliver(memory_id=memory_id, backend_id=backend_id)


# --- 1. routing overhead -------------------------------------------------------------------


def bench_overhead(space, backends, *, reads: int, writes: int) -> list[list]:
    from accounts.actors import SYSTEM
    from memories.selectors import memory_search
    from routing.outbox import outbox_deliver

    targets = [backends["graph"], backends["oss"]]
    rule(
        f"rt-writes-{space.slug}",
        space,
        match={"operations": ["add", "update", "delete"]},
        write_backends=[b.name for b in targets],
    )
    rows = []
    enqueue, deliver = [], {b.name: [] for b in targets}
    progress(f"overhead: {writes} writes replicated to {len(targets)} backends")
    for n in range(writes):
        CLOCK.reset()
        memory = add(space, n, f"bench fact {n}: likes topic {n % 17} and tea")
        enqueue.append(CLOCK.get("enqueue"))
        for backend in targets:
            CLOCK.reset()
            began = time.perf_counter()
            status = outbox_deliver(memory_id=memory.pk, backend_id=backend.pk).status
            total = time.perf_counter() - began
            if status == "delivered":
                deliver[backend.name].append(total - CLOCK.get("backend"))
    rows.append(["write: rule match + outbox rows (in the write)", *pcts(enqueue)])
    for name, values in deliver.items():
        rows.append([f"write: delivery to {name} minus backend time", *pcts(values)])

    for backend in targets:
        name = f"rt-read-{backend.name}"
        rule(
            name,
            space,
            priority=10,
            match={"operations": ["search"]},
            read_strategy="primary",
            read_backends=[backend.name],
        )
        routing_layer, hub_total, in_backend = [], [], []
        parts = {"rule match": [], "strategy minus backend": [], "ref mapping": []}
        progress(f"overhead: {reads} searches routed to {backend.name}")
        for n in range(reads + 5):
            CLOCK.reset()
            began = time.perf_counter()
            memory_search(
                actor=SYSTEM,
                space=space,
                query=f"topic {n % 17}",
                top_k=10,
                filters={"user_id": f"user-{n % 4}"},
            )
            total = time.perf_counter() - began
            if n < 5:
                continue  # warm-up: adapters start, caches fill
            backend_s = CLOCK.get("backend")
            layer = (
                CLOCK.get("plan")
                + CLOCK.get("strategy")
                - backend_s
                + CLOCK.get("refs")
                + CLOCK.get("fuse")
            )
            routing_layer.append(layer)
            parts["rule match"].append(CLOCK.get("plan"))
            parts["strategy minus backend"].append(CLOCK.get("strategy") - backend_s)
            parts["ref mapping"].append(CLOCK.get("refs"))
            hub_total.append(total - backend_s)
            in_backend.append(backend_s)
        rows.append([f"read via {backend.name}: routing layer", *pcts(routing_layer)])
        for part, values in parts.items():
            rows.append([f"read via {backend.name}: - {part}", *pcts(values)])
        rows.append(
            [
                f"read via {backend.name}: MemoryHub total minus backend",
                *pcts(hub_total),
            ]
        )
        rows.append(
            [f"read via {backend.name}: (time in the backend)", *pcts(in_backend)]
        )
        from routing import services
        from routing.models import RoutingRule

        services.rule_delete(actor=SYSTEM, rule=RoutingRule.objects.get(name=name))
    return rows


# --- 2. fan-out ----------------------------------------------------------------------------


def bench_fanout(space, backends, *, reads: int) -> list[list]:
    from accounts.actors import SYSTEM
    from memories.selectors import memory_search
    from routing import rules as routing_rules
    from routing.calls import backend_call
    from routing.selectors import LOCAL_BACKEND, _scope

    members = [backends["oss"], LOCAL_BACKEND, backends["slow"]]
    rule(
        f"fan-writes-{space.slug}",
        space,
        match={"operations": ["add", "update", "delete"]},
        write_backends=[backends["oss"].name, backends["slow"].name],
    )
    progress("fan-out: loading 60 memories into mem0 and the slow backend")
    for n in range(60):
        add(space, n, f"fan fact {n}: likes topic {n % 17} and tea")
    deliver_pending()
    rows = []
    queries = [f"topic {n % 17}" for n in range(reads)]
    scope = _scope(space, {"user_id": "user-1"})
    for backend in members:
        label = routing_rules.LOCAL if backend is LOCAL_BACKEND else backend.name
        progress(f"fan-out: {reads} searches on {label} alone")
        timing = harness.measure(
            f"{label} alone (adapter call)",
            lambda q, b=backend: backend_call(b, "search", q, scope=scope, top_k=10),
            queries,
        )
        rows.append([timing.name, timing.pct(50), timing.pct(95), timing.pct(99)])
    slowest = max(rows, key=lambda row: row[1])
    rule(
        f"fan-read-{space.slug}",
        space,
        priority=10,
        match={"operations": ["search"]},
        read_strategy="fanout",
        read_backends=[backends["oss"].name, "local", backends["slow"].name],
        read_timeout_seconds=2.0,
    )
    progress(f"fan-out: {reads} searches through the fanout rule")
    timing = harness.measure(
        "fanout over all three (memory_search)",
        lambda q: memory_search(
            actor=SYSTEM, space=space, query=q, filters={"user_id": "user-1"}
        ),
        queries,
    )
    rows.append([timing.name, timing.pct(50), timing.pct(95), timing.pct(99)])
    rows.append(
        [
            f"fanout minus slowest alone ({slowest[0].split(' ')[0]})",
            *(a - b for a, b in zip(rows[-1][1:], slowest[1:], strict=True)),
        ]
    )
    return rows


# --- 3. outbox lag with a real worker ------------------------------------------------------


@contextmanager
def celery_worker(broker: str, log: Path):
    env = {**os.environ, "CELERY_BROKER_URL": broker, "MEMORYHUB_CELERY_EAGER": "false"}
    out = log.open("ab")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "memoryhub", "worker",
            "--loglevel", "INFO", "--pool", "solo", "-Q", "default",
            "--without-gossip", "--without-mingle",
            "--hostname", f"bench-routing-{os.getpid()}@%h",
        ],
        cwd=harness.REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while b"ready." not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker not ready:\n{log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()


def bench_lag(space, backends, *, writes: int, rate: float, broker: str, log: Path):
    from routing import outbox
    from routing.models import ExternalRef, OutboxEntry

    backend = backends["lag"]
    rule(
        f"lag-writes-{space.slug}",
        space,
        match={"operations": ["add", "update", "delete"]},
        write_backends=[backend.name],
    )
    outbox.dispatch = DISPATCH  # the real one, to the broker
    progress(f"lag: starting a Celery worker on {broker}")
    with celery_worker(broker, log):
        # Warm up: the worker starts the MCP server on its first delivery.
        add(space, 10_000, "warm up the worker")
        deadline = time.monotonic() + 60
        while not ExternalRef.objects.filter(backend=backend).exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"no delivery:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        progress(f"lag: {writes} writes at {rate:g}/s")
        began = time.monotonic()
        ids = []
        for n in range(writes):
            pause = began + n / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            ids.append(add(space, n, f"lag fact {n}: topic {n % 17}").pk)
        wall = time.monotonic() - began
        deadline = time.monotonic() + 120
        while ExternalRef.objects.filter(memory_id__in=ids).count() < len(ids):
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
    created = dict(
        OutboxEntry.objects.filter(memory_id__in=ids, backend=backend).values_list(
            "memory_id", "created_at"
        )
    )
    lags = [
        (ref_at - created[memory_id]).total_seconds()
        for memory_id, ref_at in ExternalRef.objects.filter(
            memory_id__in=ids, backend=backend
        ).values_list("memory_id", "created_at")
    ]
    missing = len(ids) - len(lags)
    p50, p95, p99 = pcts(lags)
    return [
        [
            f"{writes} writes at {writes / wall:.1f}/s -> {backend.kind}",
            p50,
            p95,
            p99,
            max(lags) * 1000 if lags else float("nan"),
            missing,
        ]
    ]


DISPATCH = None


# --- main ------------------------------------------------------------------------------------


def main() -> int:
    global DISPATCH
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pgdata", type=Path, default=DEFAULT_PGDATA)
    parser.add_argument("--redis", default=DEFAULT_REDIS)
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--fanout-reads", type=int, default=100)
    parser.add_argument("--lag-writes", type=int, default=300)
    parser.add_argument("--lag-rate", type=float, default=10.0)
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["overhead", "fanout", "lag"]
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-routing-"))
    from benchmarks import mem0_peer

    mem0_peer.quiet_mem0_env(workdir / "mem0")
    os.environ["MEMORYHUB_CELERY_EAGER"] = "false"
    os.environ["CELERY_BROKER_URL"] = args.redis
    harness.setup_django(args.pgdata)
    from routing import outbox

    DISPATCH = outbox.dispatch
    instrument()
    from memories.embedding import embed_texts

    embed_texts(["warm up the embedder"])
    stamp = str(int(time.time()))
    (rt, fan, lag), backends = make_world(workdir, stamp)
    out = []
    if "overhead" not in args.skip:
        rows = bench_overhead(rt, backends, reads=args.reads, writes=args.writes)
        out += [
            "## Routing overhead (ms; target p50 < 1, p99 < 3)",
            "",
            md_table(["measured", "p50", "p95", "p99"], rows),
            "",
        ]
    if "fanout" not in args.skip:
        rows = bench_fanout(fan, backends, reads=args.fanout_reads)
        out += [
            "## Fan-out search vs the slowest backend (ms)",
            "",
            md_table(["search", "p50", "p95", "p99"], rows),
            "",
        ]
    if "lag" not in args.skip:
        rows = bench_lag(
            lag,
            backends,
            writes=args.lag_writes,
            rate=args.lag_rate,
            broker=args.redis,
            log=workdir / "worker.log",
        )
        out += [
            "## Outbox delivery lag, real Celery worker (ms; target p99 < 2000)",
            "",
            md_table(["load", "p50", "p95", "p99", "max", "missing"], rows),
            "",
        ]
    out += [
        "Notes:",
        "- backends: `graph`/`slow`/`lag` = official MCP memory server (stdio, "
        "node), `slow` with inject_latency_ms=50; `oss` = mem0 OSS Memory "
        "in-process (pgvector, torch 1 thread); `local` = MemoryHub's store",
        "- backend time = the adapter method itself (timed around it); "
        "inject_latency_ms sleeps count as MemoryHub-side only for `slow`, "
        "which is not in the overhead table",
        "- lag = ExternalRef created (copy stored) minus outbox row created; "
        f"Celery worker `--pool solo` on {args.redis}",
        f"- machine: {harness.machine()}",
    ]
    print("\n".join(out))
    from routing.backends.registry import adapters_reset

    adapters_reset()
    return 0


if __name__ == "__main__":
    sys.exit(main())
