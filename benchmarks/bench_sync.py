"""What does a sync job cost? Pulls, pushes, back-fills and incremental runs.

Measured on real stores, each run executing in this process exactly as a
worker executes it (``run_start`` + ``run_continue``, no time budget):

1. **Pull** of N memories (10,000) from an in-process mem0 ``Memory`` (OSS,
   pgvector) into an empty space: memories/s with MemoryHub's embedding,
   encryption, dedupe, history and audit included. Target >= 300/s. The
   peer: the same N texts through ``memory_add_many`` (batch add, the
   fastest write MemoryHub has), in the same process.
2. **Push** of the same N memories to the official MCP memory server (stdio).
3. **Incremental runs** on a space of M memories (100,000) already pushed to
   an MCP server (its back-fill is measured too): a run that finds 100
   changes (target <= 2 s end to end) and a run that finds nothing (target
   <= 200 ms), each repeated.
4. An incremental **pull** that finds 100 changes among the N in mem0.

mem0's source collection is filled once through ``Memory.add(infer=False)``
(its own embedding, about 20 ms per memory) and reused by later runs (same
collection, history file and count). Isolation: its own embedded PostgreSQL
(``var/bench-sync-pgdata``), files under ``var/bench-sync/``, 127.0.0.1 only.

    .venv/bin/python benchmarks/bench_sync.py [--pull 10000] [--space 100000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import harness
from benchmarks.harness import md_table, progress

DEFAULT_PGDATA = harness.REPO / "var" / "bench-sync-pgdata"
WORKDIR = harness.REPO / "var" / "bench-sync"


def vector(seed: int) -> list[float]:
    import numpy as np

    values = np.random.default_rng(seed).normal(size=384)
    return list(values / np.linalg.norm(values))


def text(n: int) -> str:
    subjects = ("Ana", "Ben", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana")
    things = ("tea", "maps", "jazz", "chess", "rain", "trains", "figs", "kites")
    return (
        f"{subjects[n % 8]} noted fact {n}: likes {things[(n // 8) % 8]} "
        f"and visits city {n % 97}"
    )


def run_job(job):
    from routing.sync.engine import run_continue, run_start

    began = time.perf_counter()
    started = run_start(job_pk=job.pk, trigger="manual")
    run = run_continue(run_pk=started.pk, budget=float("inf"))
    return run, time.perf_counter() - began


def check(run, what: str) -> None:
    if run.state != "succeeded":
        raise SystemExit(f"{what}: run {run.pk} {run.state}: {run.message}")


def mem0_source(size: int):
    """The mem0 backend holding ``size`` memories (filled once, then reused)."""
    from accounts.actors import SYSTEM
    from routing import services
    from routing.backends.registry import adapter_for
    from routing.models import Backend

    backend = Backend.objects.filter(name=f"bench-mem0-{size}").first()
    if backend is None:
        backend = services.backend_create(
            actor=SYSTEM,
            name=f"bench-mem0-{size}",
            kind="mem0",
            allows_plaintext=True,
            timeout_seconds=120,
            config={
                "collection": f"bench_sync_source_{size}",
                "history_path": str(WORKDIR / f"mem0-{size}-history.db"),
            },
        )
    memory = adapter_for(backend).memory
    have = len(memory.get_all(filters={"user_id": "source"}, top_k=size + 1)["results"])
    if have < size:
        progress(f"filling mem0 with {size - have} memories (once; ~20 ms each)")
        for n in range(have, size):
            memory.add(text(n), user_id="source", infer=False)
            if n % 1000 == 999:
                progress(f"  {n + 1}/{size}")
    return backend


def mcp_backend(name: str, workdir: Path):
    from accounts.actors import SYSTEM
    from routing import services

    return services.backend_create(
        actor=SYSTEM,
        name=name,
        kind="mcp_memory",
        allows_plaintext=True,
        timeout_seconds=120,
        config={"memory_file": str(workdir / f"{name}.jsonl")},
    )


def job(space, backend, direction: str, batch: int):
    from accounts.actors import SYSTEM
    from routing.sync import services as sync

    return sync.sync_job_create(
        actor=SYSTEM,
        name=f"bench {direction} {backend.name}",
        space=space,
        backend=backend,
        direction=direction,
        batch_size=batch,
    )


def bench_pull_push(size: int, batch: int, stamp: str, workdir: Path) -> list:
    from accounts.actors import SYSTEM
    from memories.services.memories import memory_add_many

    filled = mem0_source(size)
    # A backend of its own per run (same collection and history): a backend's
    # item maps to one memory, so a second run's space could not adopt it.
    from routing import services

    source = services.backend_create(
        actor=SYSTEM,
        name=f"bench-pull-{stamp}",
        kind="mem0",
        allows_plaintext=True,
        timeout_seconds=120,
        config=dict(filled.config),
    )
    (pulled, peer), _ = harness.bootstrap_space(
        team_slug="bench", space_slugs=[f"pull-{stamp}", f"peer-{stamp}"]
    )
    progress(f"pull of {size} from mem0")
    pull, seconds = run_job(job(pulled, source, "pull", batch))
    check(pull, "pull")
    rows = [("pull from mem0 OSS", size, pull.created, seconds, pull.created / seconds)]

    progress(f"peer: memory_add_many of the same {size} texts")
    began = time.perf_counter()
    for low in range(0, size, batch):
        memory_add_many(
            actor=SYSTEM,
            space=peer,
            items=[
                {"content": text(n), "user_id": "source"}
                for n in range(low, min(size, low + batch))
            ],
        )
    seconds = time.perf_counter() - began
    rows.append(
        ("peer: batch add (memory_add_many)", size, size, seconds, size / seconds)
    )

    progress(f"push of {size} to the MCP memory server")
    target = mcp_backend(f"bench-push-{stamp}", workdir)
    push, seconds = run_job(job(pulled, target, "push", batch))
    check(push, "push")
    rows.append(
        ("push to the MCP server", size, push.created, seconds, push.created / seconds)
    )

    progress("incremental pull: 100 changes among them in mem0")
    from routing.backends.registry import adapter_for
    from routing.models import ExternalRef

    memory = adapter_for(source).memory
    pull_job = pull.job
    refs = list(
        ExternalRef.objects.filter(backend=source, space_id=pulled.pk).values_list(
            "external_id", flat=True
        )[:100]
    )
    for n, external_id in enumerate(refs):
        memory.update(external_id, f"{text(n)} (revised {stamp})")
    again, seconds = run_job(pull_job)
    check(again, "incremental pull")
    rows.append(
        (
            "incremental pull, 100 changed",
            size,
            again.updated,
            seconds,
            again.updated / seconds,
        )
    )
    # Put the source back as it was, for the next run of the benchmark.
    for n, external_id in enumerate(refs):
        memory.update(external_id, text(n))
    return rows


def seed_space(space, count: int) -> None:
    """``count`` memories with given vectors (no embedding), as fast as MemoryHub
    takes them."""
    from accounts.actors import SYSTEM
    from memories.services.memories import memory_add_many

    for low in range(0, count, 1000):
        high = min(count, low + 1000)
        memory_add_many(
            actor=SYSTEM,
            space=space,
            items=[
                {"content": text(n), "user_id": f"u{n % 100}"} for n in range(low, high)
            ],
            embeddings=[vector(n) for n in range(low, high)],
        )
        if high % 20000 == 0:
            progress(f"  {high}/{count}")


def bench_incremental(count: int, repeats: int, stamp: str, workdir: Path):
    import numpy as np

    from accounts.actors import SYSTEM
    from memories.models import Memory
    from memories.services.memories import memory_update

    (space,), _ = harness.bootstrap_space(
        team_slug="bench", space_slugs=[f"inc-{stamp}"]
    )
    progress(f"seeding a space with {count} memories")
    seed_space(space, count)
    target = mcp_backend(f"bench-inc-{stamp}", workdir)
    push_job = job(space, target, "push", 1000)
    progress(f"back-fill of {count} to the MCP memory server")
    fill, fill_seconds = run_job(push_job)
    check(fill, "back-fill")
    ids = list(
        Memory.objects.filter(space=space).values_list("pk", flat=True)[: 100 * repeats]
    )
    changed, nothing = [], []
    for r in range(repeats):
        for n, pk in enumerate(ids[r * 100 : (r + 1) * 100]):
            memory_update(
                actor=SYSTEM,
                space=space,
                memory_id=pk,
                metadata={"revision": f"{stamp}-{r}-{n}"},
            )
        run, seconds = run_job(push_job)
        check(run, "incremental push")
        assert run.updated == 100, run.counts()
        changed.append(seconds)
        run, seconds = run_job(push_job)
        check(run, "empty incremental push")
        assert run.updated == 0, run.counts()
        nothing.append(seconds)

    def row(name, values):
        ms = np.array(values) * 1000
        return (name, len(values), *(float(np.percentile(ms, q)) for q in (50, 95, 99)))

    return (
        fill,
        fill_seconds,
        [
            row("finds 100 changes (target <= 2000 ms)", changed),
            row("finds nothing (target <= 200 ms)", nothing),
        ],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pgdata", type=Path, default=DEFAULT_PGDATA)
    parser.add_argument("--pull", type=int, default=10_000, help="memories pulled")
    parser.add_argument("--space", type=int, default=100_000, help="space size")
    parser.add_argument("--batch", type=int, default=500, help="items per page")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["pull", "incremental"]
    )
    args = parser.parse_args()

    WORKDIR.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    from benchmarks import mem0_peer

    mem0_peer.quiet_mem0_env(WORKDIR / "mem0")
    os.environ["MEMORYHUB_CELERY_EAGER"] = "true"  # follow-ups, if any, run here
    harness.setup_django(args.pgdata)
    from routing import outbox

    outbox.dispatch = lambda *a, **k: None  # no routing rules here anyway
    from memories.embedding import embed_texts

    embed_texts(["warm up the embedder"])
    stamp = str(int(time.time()))
    out = []
    if "pull" not in args.skip:
        rows = bench_pull_push(args.pull, args.batch, stamp, workdir)
        out += [
            "## Pull and push (one run each, batch "
            f"{args.batch}; pull target >= 300 memories/s)",
            "",
            md_table(["run", "memories", "applied", "seconds", "memories/s"], rows),
            "",
            f"Pull vs batch add: {rows[0][4] / rows[1][4]:.2f}x the peer's rate.",
            "",
        ]
    if "incremental" not in args.skip:
        fill, seconds, rows = bench_incremental(
            args.space, args.repeats, stamp, workdir
        )
        out += [
            f"## Incremental push runs on a space of {args.space:,} memories (ms)",
            "",
            f"Back-fill first: {fill.created:,} memories to the MCP server in "
            f"{seconds:.1f} s ({fill.created / seconds:,.0f}/s, {fill.pages} pages).",
            "",
            md_table(["run", "runs", "p50", "p95", "p99"], rows),
            "",
        ]
    out += [
        "Notes:",
        "- runs execute in this process as a worker runs them (run_start + "
        "run_continue), end to end: feed reads, backend calls, commits",
        "- mem0 = mem0ai OSS Memory in-process (pgvector on the same embedded "
        "PostgreSQL, torch 1 thread); MCP = official server over stdio (node)",
        "- MemoryHub embeds with the exported ONNX int8 all-MiniLM-L6-v2",
        f"- machine: {harness.machine()}",
    ]
    print("\n".join(out))
    from routing.backends.registry import adapters_reset

    adapters_reset()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
