"""A/B of a user's search by binary codes against whole embeddings (or the HNSW index), in one process.

Over a space ``bench_api.py`` loaded (same ``--pgdata``), every user of it
searched once per round with new queries, rounds ordered codes, embeddings,
embeddings, codes (and so on: drift over the run falls on both):

- **codes**: the scan of the user's rows ranks their binary codes from
  ``memory_space_codes`` (an index-only scan) and re-ranks the best
  ``MEMORYHUB_SEARCH_RERANK_CANDIDATES`` (10 per result above it) by cosine
  from their rows (migration 0016; ``memories.search._scan_statement``);
- **embeddings**: the scan ranks the user's whole embeddings exactly from
  ``memory_space_vectors`` (migration 0015's covering index, built again
  here, concurrently, for the run and dropped at the end);
- or, with ``--against index``, **index**: the plan a user above
  ``MEMORYHUB_SEARCH_EXACT_MAX_ROWS`` gets, the HNSW index's iterative
  scan (pgvector 0.8) — where that limit should lie is the question, so
  load users of the sizes in question (``bench_api.py --users 25`` gives
  40,000 memories each at 1M).

Both through ``search_memories`` with the user's scope, as the API calls it
(the codes plan whatever the user's size). Reported: latency per round,
each relation's pages from outside shared buffers and found in them
(``pg_statio``), and the recall@10 of each round's results against the
exact ranking of the same query (by id, and counting a result no farther
than the exact 10th as a hit): for the codes plan at each ``--candidates``
value (the first is timed, the others only checked), for the index plan as
it ran.

    .venv/bin/python benchmarks/ab_codes.py --n 1000000 --rounds 8
    .venv/bin/python benchmarks/ab_codes.py --n 1000000 --users 25 --against index \
        --pgdata var/bench-u25
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import corpus, harness
from benchmarks.bench_api import TOP_K
from benchmarks.harness import md_table, measure, progress

VECTORS = "memory_space_vectors"
CODES = "memory_space_codes"
HNSW = "memory_embedding_hnsw"
UNLIMITED = 10**9  # MEMORYHUB_SEARCH_EXACT_MAX_ROWS: every user is scanned


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--n", type=int, default=1_000_000, help="memories in bench_api's space")
    add("--users", type=int, default=100)
    add(
        "--rounds",
        type=int,
        default=8,
        help="rounds: codes, embeddings, embeddings, codes, ...",
    )
    add(
        "--candidates",
        default="200,100,400",
        help="re-rank candidates; the first is timed",
    )
    add(
        "--against",
        choices=("embeddings", "index"),
        default="embeddings",
        help="the other plan: whole embeddings' covering index, or the HNSW index",
    )
    add("--pgdata", type=Path, default=harness.DEFAULT_PGDATA)
    add("--seed", type=int, default=int(time.time()), help="new queries each run")
    return parser.parse_args(argv)  # fmt: skip


def _counts(cursor, relations) -> dict[str, tuple[int, int]]:
    """Pages each relation read from outside shared buffers, and hit in them."""
    cursor.execute("SELECT pg_stat_force_next_flush()")
    cursor.execute("SELECT pg_stat_clear_snapshot()")
    cursor.execute(
        "SELECT relname, heap_blks_read, heap_blks_hit FROM pg_statio_user_tables "
        "WHERE relname = ANY(%s) UNION ALL "
        "SELECT indexrelname, idx_blks_read, idx_blks_hit FROM pg_statio_user_indexes "
        "WHERE indexrelname = ANY(%s)",
        [list(relations), list(relations)],
    )
    return {name: (read, hit) for name, read, hit in cursor.fetchall()}


def _recall(found: list, exact: list) -> tuple[float, float]:
    """By id, and with ties: a result no farther than the exact 10th."""
    ids = {memory.pk for memory, _ in exact}
    tenth = exact[-1][1]
    by_id = sum(memory.pk in ids for memory, _ in found) / len(exact)
    ties = sum(score >= tenth - 1e-6 for _, score in found) / len(exact)
    return by_id, ties


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.setup_django(args.pgdata)
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from memories import search, search_index
    from memories.models import Space

    slug = f"api-n{args.n}-u{args.users}-v{corpus.CORPUS_VERSION}"
    space = Space.objects.filter(slug=slug, team__slug="bench").first()
    if space is None or corpus.loaded_count(space) < args.n:
        raise SystemExit(f"space {slug} is not loaded: run bench_api.py --n {args.n}")
    if not search_index.codes_ready():
        raise SystemExit("no binary codes: run the migrations (pgvector 0.7 or later)")
    candidates = [int(c) for c in args.candidates.split(",")]
    embedder = corpus.local_embedder(threads=1)
    rng = random.Random(args.seed)
    other = args.against
    relations = ("memories_memory", "memories_memory_pkey", CODES)
    relations += (VECTORS,) if other == "embeddings" else (HNSW,)
    out = [f"# user search A/B: binary codes vs {other}", ""]
    out.append(f"- space `{slug}`; {harness.machine()} before")
    with connection.cursor() as cursor:
        if other == "embeddings":
            progress(f"building {VECTORS} for the run")
            began = time.perf_counter()
            cursor.execute(
                search_index.covering_index_sql(VECTORS, search_index.EMBEDDING_COLUMN)
            )
            cursor.execute("ANALYZE memories_memory")
            out.append(f"- {VECTORS} built in {time.perf_counter() - began:.1f} s")
        cursor.execute(
            "SELECT indexrelname, pg_relation_size(indexrelid) FROM "
            "pg_stat_user_indexes WHERE indexrelname = ANY(%s)",
            [list(relations[2:])],
        )
        sizes = dict(cursor.fetchall())
        cursor.execute(
            "SELECT user_id, count(*) FROM memories_memory WHERE space_id = %s "
            "GROUP BY user_id",
            [space.pk],
        )
        per_user = sorted(count for _, count in cursor.fetchall())
    out.append(
        "- index sizes: "
        + ", ".join(f"{name} {size / 2**20:,.0f} MiB" for name, size in sizes.items())
    )
    out.append(
        f"- memories per user: {per_user[0]:,} to {per_user[-1]:,} "
        f"({len(per_user)} users)"
    )
    configured = (settings.SEARCH_RERANK_CANDIDATES, settings.SEARCH_EXACT_MAX_ROWS)
    size_seconds = search.SIZE_SECONDS

    def run(user: str, vector, plan: str, wanted: int = candidates[0]):
        """One search by ``plan``: codes, embeddings (or exact, where
        memory_space_vectors is not there), or index."""
        # The index plan's fallback (a short iterative scan) is the codes scan.
        search_index._codes_ready[connection.alias] = plan in ("codes", "index")
        settings.SEARCH_RERANK_CANDIDATES = wanted
        settings.SEARCH_EXACT_MAX_ROWS = 0 if plan == "index" else UNLIMITED
        return search.search_memories(
            scope=search.Scope.of(space.pk, {"user_id": user}, timezone.now()),
            query_embedding=vector,
            query_tokens=[],
            top_k=TOP_K,
            threshold=None,
            mode="vector",
        )

    users = [f"user-{u}" for u in range(args.users)]
    rows, pages = [], []
    recalls: dict = {c: [] for c in [*candidates, other]}
    try:
        # The row counts that choose a plan are kept a minute per process
        # (a server searching a user often counts once a minute): counted
        # here, before the clock, and kept for the run.
        search.SIZE_SECONDS = float("inf")
        for j, user in enumerate(users):  # untimed: imports, embedder, counts
            vector = embedder.embed([corpus.query(-1 - j)])[0]
            run(user, vector, "codes")
            run(user, vector, other)
        for number in range(args.rounds):
            codes = number % 4 in (0, 3)
            label = "codes" if codes else other
            progress(f"round {number + 1}: {label}")
            rng.shuffle(users)
            vectors = embedder.embed(
                [corpus.query(rng.randrange(10**7)) for _ in users]
            )
            found: list = [None] * len(users)

            def one(i: int, label=label, vectors=vectors, found=found) -> int:
                found[i] = run(users[i], vectors[i], label)
                if len(found[i]) < TOP_K:
                    raise AssertionError(f"{len(found[i])} results, not {TOP_K}")
                return 1

            with connection.cursor() as cursor:
                before = _counts(cursor, relations)
                timing = measure(f"user filter, {label}", one, range(len(users)))
                after = _counts(cursor, relations)
            rows.append(
                [number + 1, label, timing.errors, timing.pct(50), timing.pct(95),
                 timing.pct(99)]
            )  # fmt: skip
            pages.append(
                [number + 1, label]
                + [
                    f"{after.get(r, (0, 0))[0] - before.get(r, (0, 0))[0]:,} / "
                    f"{after.get(r, (0, 0))[1] - before.get(r, (0, 0))[1]:,}"
                    for r in relations
                ]
            )
            if codes or other == "index":
                for i, user in enumerate(users):
                    if found[i] is None:  # an error, counted above
                        continue
                    exact = run(user, vectors[i], "exact")
                    if not codes:
                        recalls[other].append(_recall(found[i], exact))
                        continue
                    for c in candidates:
                        hits = (
                            found[i]
                            if c == candidates[0]
                            else run(user, vectors[i], "codes", c)
                        )
                        recalls[c].append(_recall(hits, exact))
    finally:
        search.SIZE_SECONDS = size_seconds
        search_index._codes_ready.pop(connection.alias, None)
        settings.SEARCH_RERANK_CANDIDATES, settings.SEARCH_EXACT_MAX_ROWS = configured
        if other == "embeddings":
            with connection.cursor() as cursor:
                cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {VECTORS}")
    recall_rows = [
        [f"codes, {c} candidates" if c != other else other, len(r), f"{sum(a for a, _ in r) / len(r):.4f}", f"{sum(b for _, b in r) / len(r):.4f}"]
        for c, r in recalls.items()
        if r
    ]  # fmt: skip
    out += [
        f"- {harness.machine()} after",
        "",
        "## Latency (search_memories, one user-filtered vector search per user)",
        "",
        md_table(["round", "plan", "errors", "p50 ms", "p95 ms", "p99 ms"], rows),
        "",
        "## Pages read from outside shared buffers / found in them",
        "",
        md_table(["round", "plan", *relations], pages),
        "",
        "## Recall@10 against the exact ranking",
        "",
        md_table(["plan", "searches", "by id", "ties counted"], recall_rows),
    ]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
