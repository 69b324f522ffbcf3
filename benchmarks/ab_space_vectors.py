"""A/B of the ``memory_space_vectors`` covering index, in one process.

The index (migration 0015) holds every memory's embedding beside its space
and user, so an exact search of a user is an index-only scan; it is about
as large as the HNSW graph, and the two with the table may no longer fit
``shared_buffers``. This measures, over a space ``bench_api.py`` loaded
(same ``--pgdata``), in rounds ordered with, without, without, with (and
so on: drift over the run falls on both)

- **with**: the index present, users of up to
  ``MEMORYHUB_SEARCH_EXACT_MAX_ROWS`` (as configured) ranked exactly from it;
- **without**: the index dropped and the threshold at 2,000, as before
  migration 0015 (a 10,000-memory user is searched with the iterative HNSW
  scan),

three phases, each on queries not run before:

1. one user-filtered vector search per user (``search_memories`` with the
   user's scope: the API's statement);
2. ``--queries`` unfiltered vector searches (after phase 1 has read every
   user's pages: what a cold search pays if they evicted the graph's);
3. ``--batches`` batch adds of 100 memories through ``memory_add_many``
   (embeddings computed before the clock starts: the database's part of a
   batch add, encryption included).

For each phase it reports latencies and, per relation, the pages that were
not in shared buffers (``pg_statio_*`` ``blks_read``: read from the OS cache
or the disk). The index is dropped and rebuilt (``CONCURRENTLY``, from its
own definition) between rounds; it is present again at the end. The rows
phase 3 adds stay in a scratch space (``ab-writes``).

    .venv/bin/python benchmarks/ab_space_vectors.py --n 1000000 --rounds 4
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

INDEX = "memory_space_vectors"
THRESHOLD_WITHOUT = 2000  # MEMORYHUB_SEARCH_EXACT_MAX_ROWS before migration 0015
RELATIONS = ("memories_memory", "memory_embedding_hnsw", INDEX, "memory_space_user")
WRITES_BASE = 60_000_000  # corpus item numbers of the added rows (past bench_api's)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--n", type=int, default=1_000_000, help="memories in bench_api's space")
    add("--users", type=int, default=100)
    add(
        "--rounds",
        type=int,
        default=4,
        help="rounds: with, without, without, with, ...",
    )
    add("--queries", type=int, default=100, help="unfiltered searches per round")
    add("--batches", type=int, default=5, help="batch adds (100 each) per round")
    add("--pgdata", type=Path, default=harness.DEFAULT_PGDATA)
    # New queries and new memories on every run against the same database
    # (an item added before would be a duplicate, and cost no insert).
    add("--seed", type=int, default=int(time.time()))
    return parser.parse_args(argv)


class Relations:
    """Pages each relation read from outside shared buffers, and hit in them."""

    def __init__(self) -> None:
        from django.db import connection

        self.connection = connection

    def counts(self) -> dict[str, tuple[int, int]]:
        with self.connection.cursor() as cursor:
            # Flush this backend's pending statistics, then read them anew.
            cursor.execute("SELECT pg_stat_force_next_flush()")
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT relname, heap_blks_read, heap_blks_hit FROM pg_statio_user_tables "
                "WHERE relname = ANY(%s) UNION ALL "
                "SELECT indexrelname, idx_blks_read, idx_blks_hit FROM pg_statio_user_indexes "
                "WHERE indexrelname = ANY(%s)",
                [list(RELATIONS), list(RELATIONS)],
            )
            return {name: (read, hit) for name, read, hit in cursor.fetchall()}

    def delta(self, before: dict, after: dict) -> dict[str, tuple[int, int]]:
        return {
            name: (
                after.get(name, (0, 0))[0] - before.get(name, (0, 0))[0],
                after.get(name, (0, 0))[1] - before.get(name, (0, 0))[1],
            )
            for name in RELATIONS
        }


class SpaceVectors:
    """Drops and rebuilds the covering index from its own definition."""

    def __init__(self) -> None:
        from django.db import connection

        self.connection = connection
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE indexname = %s", [INDEX]
            )
            row = cursor.fetchone()
        if row is None:
            raise SystemExit(f"{INDEX} is not there: run the migrations first")
        self.definition = row[0].replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY", 1)
        self.present = True

    def set(self, present: bool) -> float:
        """Make the index present or not; seconds it took."""
        if present == self.present:
            return 0.0
        began = time.perf_counter()
        with self.connection.cursor() as cursor:
            if present:
                cursor.execute(self.definition)
            else:
                cursor.execute(f"DROP INDEX CONCURRENTLY {INDEX}")
            cursor.execute("ANALYZE memories_memory")
        self.present = present
        return time.perf_counter() - began


def warm_up(space, writes, embedder) -> None:
    """A few searches and one add, untimed: this process's first calls
    (imports, the embedder, the connection) are not what is compared."""
    from django.utils import timezone

    from accounts.actors import SYSTEM
    from memories import search
    from memories.services import memory_add_many

    for j in range(10):
        for filters in ({}, {"user_id": f"user-{j}"}):
            search.search_memories(
                scope=search.Scope.of(space.pk, filters, timezone.now()),
                query_embedding=embedder.embed([corpus.query(-1 - j)])[0],
                query_tokens=[],
                top_k=TOP_K,
                threshold=None,
                mode="vector",
            )
    item = corpus.item(WRITES_BASE - 1 - random.randrange(10**6), 100)
    memory_add_many(
        actor=SYSTEM,
        space=writes,
        items=[item],
        embeddings=embedder.embed([item["content"]]),
    )


def phases(space, writes, embedder, rng, number: int, args) -> list[tuple]:
    """A round's three phases, ``(name, call, inputs)``, on new queries and
    new memories (embedded here, before any clock starts)."""
    from django.utils import timezone

    from accounts.actors import SYSTEM
    from memories import search
    from memories.services import memory_add_many

    users = [f"user-{u}" for u in range(args.users)]
    rng.shuffle(users)
    user_vectors = embedder.embed([corpus.query(rng.randrange(10**7)) for _ in users])
    vectors = embedder.embed(
        [corpus.query(rng.randrange(10**7)) for _ in range(args.queries)]
    )
    low = WRITES_BASE + number * 1000 * args.batches + rng.randrange(10**6) * 10**4
    batches = [
        [corpus.item(low + b * 100 + i, args.users) for i in range(100)]
        for b in range(args.batches)
    ]
    batch_vectors = [embedder.embed([item["content"] for item in b]) for b in batches]

    def run(scope_of, vector) -> int:
        found = search.search_memories(
            scope=scope_of,
            query_embedding=vector,
            query_tokens=[],
            top_k=TOP_K,
            threshold=None,
            mode="vector",
        )
        if len(found) < TOP_K:
            raise AssertionError(f"{len(found)} results, not {TOP_K}")
        return 1

    def user_search(i: int) -> int:
        scope = search.Scope.of(space.pk, {"user_id": users[i]}, timezone.now())
        return run(scope, user_vectors[i])

    def space_search(i: int) -> int:
        return run(search.Scope.of(space.pk, {}, timezone.now()), vectors[i])

    def batch_add(b: int) -> int:
        results = memory_add_many(
            actor=SYSTEM,
            space=writes,
            items=batches[b],
            embeddings=batch_vectors[b],
        )
        return sum(r.status == "created" for r in results)

    return [
        ("user filter, each user once", user_search, range(len(users))),
        ("vector, after the user pass", space_search, range(args.queries)),
        ("batch add (100/call)", batch_add, range(args.batches)),
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.setup_django(args.pgdata)
    from django.conf import settings

    from memories import search
    from memories.models import Space

    slug = f"api-n{args.n}-u{args.users}-v{corpus.CORPUS_VERSION}"
    space = Space.objects.filter(slug=slug, team__slug="bench").first()
    if space is None or corpus.loaded_count(space) < args.n:
        raise SystemExit(f"space {slug} is not loaded: run bench_api.py --n {args.n}")
    (writes,), _ = harness.bootstrap_space(team_slug="bench", space_slugs=["ab-writes"])
    configured = settings.SEARCH_EXACT_MAX_ROWS
    embedder = corpus.local_embedder(threads=1)
    rng = random.Random(args.seed)
    relations, index = Relations(), SpaceVectors()
    rows, pages, rebuilds = [], [], []
    out = ["# covering index A/B (memory_space_vectors)", ""]
    out.append(f"- space `{slug}`; {harness.machine()} before")
    warm_up(space, writes, embedder)
    for number in range(args.rounds):
        present = number % 4 in (0, 3)  # with, without, without, with, ...
        label = "with" if present else "without"
        progress(f"round {number + 1}: {label} the index")
        seconds = index.set(present)
        if seconds:
            rebuilds.append((label, seconds))
        settings.SEARCH_EXACT_MAX_ROWS = configured if present else THRESHOLD_WITHOUT
        search._sizes.clear()
        for name, call, inputs in phases(space, writes, embedder, rng, number, args):
            before = relations.counts()
            timing = measure(name, call, inputs)
            read = relations.delta(before, relations.counts())
            rows.append(
                [number + 1, label, name, timing.errors, timing.pct(50), timing.pct(95),
                 timing.pct(99), timing.items_per_second]
            )  # fmt: skip
            pages.append(
                [number + 1, label, name]
                + [f"{read[r][0]:,} / {read[r][1]:,}" for r in RELATIONS]
            )
    seconds = index.set(True)
    if seconds:
        rebuilds.append(("with", seconds))
    settings.SEARCH_EXACT_MAX_ROWS = configured
    out += [
        f"- {harness.machine()} after; index rebuilds: "
        + ", ".join(f"{s:.1f} s" for label, s in rebuilds if label == "with"),
        "",
        "## Latency",
        "",
        md_table(
            [
                "round",
                "index",
                "phase",
                "errors",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "items/s",
            ],
            rows,
        ),
        "",
        "## Pages read from outside shared buffers / found in them",
        "",
        md_table(["round", "index", "phase", *RELATIONS], pages),
    ]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
