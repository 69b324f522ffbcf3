"""What a batch add's WAL costs at 1M: full-page images on and off, in one process.

An HNSW insertion rewrites the neighbour lists of some thirty graph pages,
and the first change to a page after a checkpoint writes the whole page to
the WAL (``full_page_writes``). With a million-memory graph nearly every
page a batch touches is such a first change. This measures, over the
benchmark database ``bench_api.py`` loaded (same ``--pgdata``), batch adds
of 100 memories through ``memory_add_many`` (embeddings computed before the
clock starts; each batch committed), in rounds alternating

- **on**: ``full_page_writes = on``, as every server must run it;
- **off**: ``full_page_writes = off`` (unsafe: a torn page after a crash
  cannot be repaired), set with ``ALTER SYSTEM`` and a reload for the
  round only and reset at the end, to see what the full-page images cost,

and reports per batch its time and the WAL it wrote (``pg_current_wal_lsn``
before and after). Only for a benchmark server: never point it at data
you keep. The rows stay in a scratch space (``ab-wal``).

    .venv/bin/python benchmarks/ab_wal.py --rounds 10
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import corpus, harness
from benchmarks.harness import md_table, progress

WRITES_BASE = 70_000_000  # corpus item numbers of the added rows (past the others')


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--rounds", type=int, default=10, help="rounds: on, off, off, on, ...")
    add("--batch-size", type=int, default=100)
    add("--pgdata", type=Path, default=harness.DEFAULT_PGDATA)
    # New memories on every run against the same database (an item added
    # before would be a duplicate, and cost no insert).
    add("--seed", type=int, default=int(time.time()))
    return parser.parse_args(argv)


def _one(cursor, sql: str, params=()):
    cursor.execute(sql, params)
    return cursor.fetchone()[0]


def _full_page_writes(cursor, value: str) -> None:
    cursor.execute(f"ALTER SYSTEM SET full_page_writes = {value}")
    cursor.execute("SELECT pg_reload_conf()")
    for _ in range(100):  # the reload is asynchronous
        if _one(cursor, "SHOW full_page_writes") == value:
            return
        time.sleep(0.05)
    raise SystemExit(f"full_page_writes did not become {value}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.setup_django(args.pgdata)
    from django.db import connection

    from accounts.actors import SYSTEM
    from memories.services import memory_add_many

    (writes,), _ = harness.bootstrap_space(team_slug="bench", space_slugs=["ab-wal"])
    with connection.cursor() as cursor:
        rows = _one(cursor, "SELECT count(*) FROM memories_memory")
    embedder = corpus.local_embedder(threads=1)
    rng = random.Random(args.seed)
    low = WRITES_BASE + rng.randrange(10**6) * 10**4
    size = args.batch_size
    results: dict[str, list[tuple[float, int]]] = {"on": [], "off": []}
    began_machine = harness.machine()
    try:
        for number in range(args.rounds):
            value = "on" if number % 4 in (0, 3) else "off"
            items = [corpus.item(low + number * size + i, 100) for i in range(size)]
            vectors = embedder.embed([item["content"] for item in items])
            with connection.cursor() as cursor:
                _full_page_writes(cursor, value)
                before = _one(cursor, "SELECT pg_current_wal_lsn()")
            began = time.perf_counter()
            added = memory_add_many(
                actor=SYSTEM, space=writes, items=items, embeddings=vectors
            )
            seconds = time.perf_counter() - began
            with connection.cursor() as cursor:
                wal = _one(
                    cursor,
                    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)",
                    [before],
                )
            if sum(result.status == "created" for result in added) != size:
                raise SystemExit("a batch added fewer memories than it holds")
            results[value].append((seconds, int(wal)))
            progress(f"round {number + 1} ({value}): {seconds * 1000:.0f} ms, "
                     f"{wal / 2**20:.1f} MiB of WAL")  # fmt: skip
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER SYSTEM RESET full_page_writes")
            cursor.execute("SELECT pg_reload_conf()")
    table = []
    for value, runs in results.items():
        if not runs:
            continue
        times = sorted(seconds * 1000 for seconds, _ in runs)
        wal = statistics.median(w for _, w in runs)
        table.append(
            [f"full_page_writes = {value}", len(runs), statistics.median(times),
             times[-1], size / statistics.median(times) * 1000,
             f"{wal / 2**20:.1f}", f"{wal / size / 1024:.0f}"]
        )  # fmt: skip
    print("# Batch add's WAL: full-page images on and off\n")
    print(f"- {rows:,} memories in the table; batches of {size}, each committed")
    print(f"- {began_machine} before, {harness.machine()} after\n")
    print(md_table(
        ["", "batches", "p50 ms", "max ms", "memories/s at p50",
         "WAL per batch, MiB (p50)", "WAL per memory, KiB"],
        table,
    ))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
