"""What does extraction cost beyond the model? Overhead per message and
throughput with a pool of workers.

No LLM runs on these machines, so the model is the scripted OpenAI-compatible
test fixture (``tests/scripted_llm.py``) answering every call after a fixed
latency (``--latency-ms``, 50 by default); it answers one fact per message
and ADD per fact, so every extraction runs all four steps: facts (one model
call), embedding + scoped search, decisions (a second call: the subject has
stored memories), and the writes (encryption, history, audit).

1. **Overhead per message**: ``extraction_submit(wait=True)`` for N messages
   (200) in this process, one at a time; overhead = end-to-end time minus the
   time spent in the model calls as the client saw them (``model_ms``: the
   HTTP round trip and the fixed latency). Target <= 10 ms, embedding
   included. Peers in the same process: MemoryHub's verbatim add of the same
   message (no model), and mem0 OSS's own ``Memory.add(infer=True)`` (one
   additive call) on the same scripted endpoint, its model calls timed the
   same way.
2. **Throughput** with W workers (threads here, as in a Celery worker with
   ``--pool threads``; the model's wait is I/O): extractions/s against the
   ceiling W / (model time per extraction).
3. With ``MEMORYHUB_LLM_URL`` (and ``MEMORYHUB_LLM_MODEL``) set in the
   environment, the same overhead figures against that real model
   (``--real-messages``, 20 by default).

Isolation: its own embedded PostgreSQL (``var/bench-extract-pgdata``), mem0
in a database of its own on that server, 127.0.0.1 only.

    .venv/bin/python benchmarks/bench_extract.py [--messages 200] [--latency-ms 50]
        [--workers 1 2 4 8] [--skip-mem0]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import harness
from benchmarks.harness import Timing, md_table, progress

DEFAULT_PGDATA = harness.REPO / "var" / "bench-extract-pgdata"
SUBJECTS = 20
STORED_PER_SUBJECT = 20
PEOPLE = ("Ana", "Ben", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ivo", "Jun")
THINGS = ("tea", "maps", "jazz", "chess", "rain", "trains", "figs", "kites", "oak")


def message(n: int) -> str:
    return (
        f"{PEOPLE[n % 10]} said fact {n}: I started {THINGS[n % 9]} lessons in "
        f"city {n % 97} and go every {('Monday', 'Friday', 'weekend')[n % 3]}"
    )


def stored(n: int) -> str:
    return f"Note {n}: likes {THINGS[n % 9]} and visited city {n % 89}"


def stats_row(name: str, values_ms: list[float]) -> list:
    import numpy as np

    array = np.array(values_ms)
    return [
        name,
        float(np.percentile(array, 50)),
        float(np.percentile(array, 95)),
        float(np.percentile(array, 99)),
        float(array.mean()),
    ]


def configure_model(url: str, model: str, api_key: str = "") -> None:
    from django.conf import settings

    settings.LLM_URL, settings.LLM_MODEL, settings.LLM_API_KEY = url, model, api_key
    settings.LLM_ALLOWS_CONTENT = True
    settings.LLM_TIMEOUT_SECONDS = 120.0


def seed(space) -> None:
    """Each subject gets stored memories, so the decision step always runs."""
    from accounts.actors import SYSTEM
    from memories import services

    items = [
        {"content": stored(n), "user_id": f"subject-{n % SUBJECTS}"}
        for n in range(SUBJECTS * STORED_PER_SUBJECT)
    ]
    services.memory_add_many(actor=SYSTEM, space=space, items=items)


def run_extractions(actor, space, count: int, offset: int = 0):
    """Serial extractions: (total ms, model ms, model calls) each."""
    from memories import services

    rows = []
    for n in range(offset, offset + count):
        began = time.perf_counter()
        event = services.extraction_submit(
            actor=actor,
            space=space,
            messages=message(n),
            scope={"user_id": f"subject-{n % SUBJECTS}"},
            wait=True,
        )
        total = (time.perf_counter() - began) * 1000
        if event.state != "SUCCEEDED":
            raise SystemExit(f"extraction failed: {event.failure}")
        rows.append((total, event.model_ms, event.model_calls))
    return rows


def run_verbatim(actor, space, count: int, offset: int) -> list[float]:
    from memories import services

    out = []
    for n in range(offset, offset + count):
        began = time.perf_counter()
        services.memory_add_many(
            actor=actor,
            space=space,
            items=[{"content": message(n), "user_id": f"subject-{n % SUBJECTS}"}],
        )
        out.append((time.perf_counter() - began) * 1000)
    return out


def run_mem0(llm_url: str, count: int, offset: int, workdir: Path):
    """mem0 OSS ``Memory.add(infer=True)``: (total ms, model ms) each."""
    from benchmarks import mem0_peer

    url = mem0_peer.ensure_database(harness.database_url())
    collection = f"extract_{int(time.time())}"
    memory = mem0_peer.make_memory(
        url=url, collection=collection, history_dir=workdir, llm_url=llm_url
    )
    spent = threading.local()
    original = memory.llm.generate_response

    def timed(*args, **kwargs):
        began = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.ms = getattr(spent, "ms", 0.0) + (time.perf_counter() - began) * 1000

    memory.llm.generate_response = timed
    for n in range(SUBJECTS * STORED_PER_SUBJECT):  # the same stored memories
        memory.add(stored(n), user_id=f"subject-{n % SUBJECTS}", infer=False)
    memory.add("warm up", user_id="warm", infer=True)
    rows = []
    for n in range(offset, offset + count):
        spent.ms = 0.0
        began = time.perf_counter()
        memory.add(message(n), user_id=f"subject-{n % SUBJECTS}", infer=True)
        rows.append(((time.perf_counter() - began) * 1000, spent.ms))
    mem0_peer.drop_collection(url, collection)
    return rows


def throughput(actor, space, count: int, workers: int, offset: int) -> Timing:
    from django.db import connection

    from memories import services

    def one(n: int) -> None:
        try:
            event = services.extraction_submit(
                actor=actor,
                space=space,
                messages=message(n),
                scope={"user_id": f"subject-{n % SUBJECTS}"},
                wait=True,
            )
            if event.state != "SUCCEEDED":
                raise RuntimeError(event.failure)
        finally:
            if threading.current_thread() is not threading.main_thread():
                connection.close()  # each worker thread has its own

    return harness.measure(
        f"{workers} workers", one, range(offset, offset + count), concurrency=workers
    )


def overhead_table(rows, verbatim=None, mem0_rows=None) -> tuple[str, dict]:
    totals = [total for total, _, _ in rows]
    models = [model for _, model, _ in rows]
    overhead = [total - model for total, model, _ in rows]
    table = [
        stats_row("MemoryHub: end to end", totals),
        stats_row("MemoryHub: in the model (client side)", models),
        stats_row("MemoryHub: overhead (end to end - model)", overhead),
    ]
    summary = {"overhead_p50": stats_row("", overhead)[1]}
    if verbatim:
        table.append(stats_row("MemoryHub: verbatim add, no model (peer)", verbatim))
    if mem0_rows:
        table += [
            stats_row(
                "mem0 OSS add(infer=True): end to end", [t for t, _ in mem0_rows]
            ),
            stats_row("mem0 OSS: in the model", [m for _, m in mem0_rows]),
            stats_row("mem0 OSS: overhead", [t - m for t, m in mem0_rows]),
        ]
        summary["mem0_overhead_p50"] = stats_row("", [t - m for t, m in mem0_rows])[1]
    return md_table(["ms per message", "p50", "p95", "p99", "mean"], table), summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pgdata", type=Path, default=DEFAULT_PGDATA)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4, 8])
    parser.add_argument("--throughput-messages", type=int, default=160)
    parser.add_argument("--real-messages", type=int, default=20)
    parser.add_argument("--skip-mem0", action="store_true")
    args = parser.parse_args()

    real = {
        "url": os.environ.pop("MEMORYHUB_LLM_URL", ""),
        "model": os.environ.pop("MEMORYHUB_LLM_MODEL", ""),
        "key": os.environ.pop("MEMORYHUB_LLM_API_KEY", ""),
    }
    workdir = Path(tempfile.mkdtemp(prefix="bench-extract-"))
    from benchmarks import mem0_peer

    mem0_peer.quiet_mem0_env(workdir / "mem0")
    os.environ["MEMORYHUB_CELERY_EAGER"] = "true"
    harness.setup_django(args.pgdata)
    from accounts.authentication import authenticate_key
    from memories.embedding import embed_texts
    from routing import outbox
    from tests.scripted_llm import ScriptedLLM

    outbox.dispatch = lambda *a, **k: None  # no routing rules here anyway
    embed_texts(["warm up the embedder"])
    stamp = str(int(time.time()))
    spaces, secret = harness.bootstrap_space(
        team_slug="bench", space_slugs=[f"extract-{stamp}"]
    )
    space = spaces[0]
    actor = authenticate_key(secret)  # a client's key: permissions are checked
    progress(f"seeding {SUBJECTS * STORED_PER_SUBJECT} stored memories")
    seed(space)
    llm = ScriptedLLM(latency=args.latency_ms / 1000)
    configure_model(llm.url, "scripted-fixture")
    run_extractions(actor, space, 5, offset=10**6)  # warm up clients and caches

    out = [
        "# Extraction: MemoryHub's overhead beyond the model",
        "",
        f"Machine: {harness.machine()}. Model: the scripted test fixture, "
        f"{args.latency_ms:g} ms per call; {SUBJECTS} subjects with "
        f"{STORED_PER_SUBJECT} stored memories each.",
        "",
    ]
    progress(f"{args.messages} serial extractions")
    rows = run_extractions(actor, space, args.messages)
    verbatim = run_verbatim(actor, space, args.messages, offset=2 * 10**6)
    mem0_rows = None
    if not args.skip_mem0:
        progress(f"mem0 OSS: {args.messages} add(infer=True)")
        mem0_rows = run_mem0(llm.url, args.messages, 0, workdir)
    table, summary = overhead_table(rows, verbatim, mem0_rows)
    calls = sum(c for _, _, c in rows) / len(rows)
    out += [
        f"## Per message ({args.messages} messages, one at a time; "
        f"{calls:.1f} model calls each; target: overhead <= 10 ms)",
        "",
        table,
        "",
    ]
    if "mem0_overhead_p50" in summary:
        out += [
            f"MemoryHub's overhead p50 is {summary['overhead_p50']:.1f} ms, "
            f"{summary['overhead_p50'] / summary['mem0_overhead_p50']:.2f}x mem0 "
            f"OSS's ({summary['mem0_overhead_p50']:.1f} ms), which makes one "
            "additive call and never updates or deletes.",
            "",
        ]
    per_extraction = sum(m for _, m, _ in rows) / len(rows) / 1000
    throughput_rows = []
    for workers in args.workers:
        progress(f"throughput with {workers} workers")
        timing = throughput(
            actor, space, args.throughput_messages, workers, offset=3 * 10**6
        )
        ceiling = workers / per_extraction
        throughput_rows.append(
            [
                workers,
                timing.per_second,
                ceiling,
                timing.per_second / ceiling,
                timing.pct(50),
                timing.pct(95),
                timing.errors,
            ]
        )
    out += [
        f"## Throughput ({args.throughput_messages} messages per row)",
        "",
        md_table(
            [
                "workers",
                "extractions/s",
                "ceiling (model-bound)",
                "of ceiling",
                "p50 ms",
                "p95 ms",
                "errors",
            ],
            throughput_rows,
        ),
        "",
    ]
    llm.close()
    if real["url"] and real["model"]:
        progress(f"real model {real['model']}: {args.real_messages} messages")
        configure_model(real["url"], real["model"], real["key"])
        rows = run_extractions(actor, space, args.real_messages, offset=4 * 10**6)
        table, _ = overhead_table(rows)
        out += [f"## The real model {real['model']}", "", table, ""]
    print("\n".join(out))


if __name__ == "__main__":
    main()
