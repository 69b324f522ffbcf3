"""Index-parameter sweep: HNSW m / ef_construction (and halfvec) at N memories.

For each index definition given with ``--points`` the sweep builds the index
over a space already loaded by ``bench_api.py`` (same ``--pgdata``), then
measures what that definition buys and costs:

- build time (``CREATE INDEX``, ``--workers`` parallel maintenance workers)
  and index size;
- for each ``--ef`` value: recall@10 of the HNSW query against exact search
  (by id, and with ties counted, as ``bench_api.py`` counts them) and the
  query's latency, p50/p95/p99, warm;
- insert cost: ``--inserts`` new rows written into the live index (one
  statement per row, as the API's batch add writes them), in a transaction
  that is rolled back, so the corpus stays as it was.

A point is ``m:ef_construction`` (``16:64``), ``h16:64`` for an index over
``embedding::halfvec(384)`` searched with ``--rerank`` candidates re-ranked
in full precision, or ``i1000`` for an IVFFlat index with 1000 lists
(measured at each ``--probes`` instead of ``--ef``). Vector points rebuild the live index (``search_index
rebuild``: what an operator would run), so the last vector point is what
stays; halfvec and IVFFlat points build a second index beside it and drop
it after.

Exact top-10s are computed once per query (a sequential scan each) and
cached under ``var/bench-cache``.

    .venv/bin/python benchmarks/sweep_index.py --n 1000000 \
        --points 16:64,16:128,24:128 --ef 100,200,400
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import corpus, harness
from benchmarks.bench_api import TOP_K, RawSearch, recall_hits
from benchmarks.harness import md_table, measure, progress

HALF_INDEX = "memory_embedding_sweep_half"
# ann-benchmarks' recall counts a result within 1e-3 of the exact k-th
# distance; bench_api's "ties counted" allows 1e-6 (identical vectors only).
ANN_EPSILON = 1e-3


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--n", type=int, default=1_000_000, help="memories in bench_api's space")
    add("--users", type=int, default=100)
    add("--space", help="space slug (default: bench_api's for --n / --users)")
    add("--team", default="bench")
    add("--points", default="16:64", help="comma-separated m:ef_construction")
    add(
        "--ef",
        type=harness.int_list,
        default=[100, 200, 400],
        help="hnsw.ef_search values measured at each point",
    )
    add(
        "--probes",
        type=harness.int_list,
        default=[10, 20, 40],
        help="ivfflat.probes values measured at ivfflat points (iLISTS)",
    )
    add("--queries", type=int, default=100, help="recall / latency queries")
    add("--inserts", type=int, default=500, help="rows inserted (rolled back)")
    add("--rerank", type=int, default=40, help="halfvec candidates re-ranked")
    add("--workers", type=int, default=1, help="parallel maintenance workers")
    add("--maintenance-work-mem", default="3GB")
    add("--pgdata", type=Path, default=harness.DEFAULT_PGDATA)
    add("--seed", type=int, default=23)
    return parser.parse_args(argv)


class Point:
    """One index definition of the sweep."""

    def __init__(self, text: str) -> None:
        self.half = text.startswith("h")
        self.lists = int(text[1:]) if text.startswith("i") else None
        if self.lists is None:
            m, ef_construction = text.removeprefix("h").split(":")
            self.m, self.ef_construction = int(m), int(ef_construction)

    @property
    def extra(self) -> bool:
        """Built beside the live index and dropped after."""
        return self.half or self.lists is not None

    def __str__(self) -> str:
        if self.lists is not None:
            return f"ivfflat lists={self.lists}"
        kind = "halfvec" if self.half else "vector"
        return f"{kind} m={self.m} ef_c={self.ef_construction}"


class Sweep:
    def __init__(self, args, space) -> None:
        self.args, self.space = args, space
        self.raw = RawSearch(space)
        self.conn = self.raw.conn
        self.table = self.raw.table

    # --- queries and their exact answers ------------------------------------

    def queries(self) -> tuple[list, list]:
        """Query vectors and their exact top-k (cached: each is a seq scan)."""
        rng = random.Random(self.args.seed)
        texts = [corpus.query(rng.randrange(10**6)) for _ in range(self.args.queries)]
        vectors = [self.raw.embed(text) for text in texts]
        cache = harness.CACHE_DIR / (
            f"sweep-exact-{self.space.slug}-{self.args.seed}-{self.args.queries}.json"
        )
        if cache.exists():
            exacts = [
                [tuple(row) for row in rows] for rows in json.loads(cache.read_text())
            ]
        else:
            progress(f"exact top-{TOP_K} of {len(vectors)} queries (sequential scans)")
            exacts = [self.raw.knn_distances(v, exact=True) for v in vectors]
            cache.write_text(json.dumps(exacts))
        return vectors, exacts

    # --- building -----------------------------------------------------------

    def build(self, point: Point) -> tuple[float | None, int]:
        """Build ``point``'s index; returns seconds (None: kept) and bytes."""
        from memories.search_index import index_rebuild, index_status

        began = time.perf_counter()
        if point.extra:
            dims = corpus_dimensions()
            if point.half:
                using = (
                    f"hnsw ((embedding::halfvec({dims})) halfvec_cosine_ops) WITH "
                    f"(m = {point.m}, ef_construction = {point.ef_construction})"
                )
            else:
                # On an expression (unit vectors: l2_normalize changes
                # nothing), so a query on it can only use this index.
                using = (
                    f"ivfflat ((l2_normalize(embedding)::vector({dims})) "
                    f"vector_cosine_ops) WITH (lists = {point.lists})"
                )
            self.drop_half()
            self.conn.execute(
                f"SET maintenance_work_mem = '{self.args.maintenance_work_mem}'"
            )
            self.conn.execute(
                f"SET max_parallel_maintenance_workers = {int(self.args.workers)}"
            )
            self.conn.execute(
                f"CREATE INDEX {HALF_INDEX} ON {self.table} USING {using}"
            )
            size = self.conn.execute(
                "SELECT pg_relation_size(%s::regclass)", [HALF_INDEX]
            ).fetchone()[0]
            return time.perf_counter() - began, size
        status = index_status()
        if status.parameters == (point.m, point.ef_construction):
            progress("  the live index has these parameters: kept")
            return None, status.size_bytes
        status = index_rebuild(
            m=point.m,
            ef_construction=point.ef_construction,
            maintenance_work_mem=self.args.maintenance_work_mem,
            workers=self.args.workers,
            progress=lambda line: progress(f"  {line}"),
        )
        return time.perf_counter() - began, status.size_bytes

    def drop_half(self) -> None:
        self.conn.execute(f"DROP INDEX IF EXISTS {HALF_INDEX}")

    # --- measuring ----------------------------------------------------------

    def knn(self, point: Point, vector) -> list[str]:
        if point.lists is not None:
            rows = self.conn.execute(
                f"SELECT id FROM {self.table} WHERE space_id = %s AND state = 'active' "
                f"ORDER BY l2_normalize(embedding)::vector({corpus_dimensions()}) <=> %s "
                f"LIMIT {TOP_K}",
                (self.space.pk, vector),
                prepare=False,
            ).fetchall()
            return [str(row[0]) for row in rows]
        if not point.half:
            return self.raw.knn(vector)
        dims = corpus_dimensions()
        rows = self.conn.execute(
            f"SELECT id FROM (SELECT id, embedding FROM {self.table} "
            f"WHERE space_id = %s AND state = 'active' "
            f"ORDER BY embedding::halfvec({dims}) <=> %s::halfvec({dims}) "
            f"LIMIT {int(self.args.rerank)}) c "
            f"ORDER BY embedding <=> %s LIMIT {TOP_K}",
            (self.space.pk, vector, vector),
            prepare=False,
        ).fetchall()
        return [str(row[0]) for row in rows]

    def ef_row(self, point: Point, ef: int, vectors: list, exacts: list) -> list:
        if point.lists is not None:
            self.conn.execute(f"SET ivfflat.probes = {int(ef)}")
        else:
            self.conn.execute(f"SET hnsw.ef_search = {int(ef)}")
        for vector in vectors[:20]:  # warm the pages this ef visits
            self.knn(point, vector)
        by_id = tied = near = total = 0
        for vector, exact_rows in zip(vectors, exacts, strict=True):
            found = self.knn(point, vector)
            by, ti = recall_hits(self.raw, vector, exact_rows, found)
            _, ne = recall_hits(
                self.raw, vector, exact_rows, found, epsilon=ANN_EPSILON
            )
            by_id, tied, near = by_id + by, tied + ti, near + ne
            total += len(exact_rows)
        timing = measure(f"ef {ef}", lambda v: self.knn(point, v), vectors)
        return [
            str(point), ef, by_id / total, tied / total, near / total,
            timing.pct(50), timing.pct(95), timing.pct(99),
        ]  # fmt: skip

    def inserts(self) -> float:
        """Rows per second written into the live index(es), rolled back.

        Each new row's vector is the sum of two loaded rows' vectors (a new
        point among the loaded ones, as a new memory would be); run_id makes
        it distinct for the dedupe constraint.
        """
        count = int(self.args.inserts)
        ids = [
            row[0]
            for row in self.conn.execute(
                f"SELECT id FROM {self.table} WHERE space_id = %s "
                f"ORDER BY random() LIMIT {2 * count}",
                [self.space.pk],
            ).fetchall()
        ]
        columns = (
            "space_id, content, content_mac, keyword_index, user_id, agent_id, "
            "app_id, metadata, categories, state, expires_at, immutable, version, "
            "key_version, created_at, updated_at"
        )
        began = time.perf_counter()
        with self.conn.transaction(force_rollback=True):
            for j in range(count):
                self.conn.execute(
                    f"INSERT INTO {self.table} (id, embedding, run_id, {columns}) "
                    f"SELECT gen_random_uuid(), a.embedding + b.embedding, "
                    f"'sweep-' || %s, {', '.join('a.' + c.strip() for c in columns.split(','))} "
                    f"FROM {self.table} a, {self.table} b WHERE a.id = %s AND b.id = %s",
                    (j, ids[2 * j], ids[2 * j + 1]),
                    prepare=False,
                )
        return count / (time.perf_counter() - began)


def corpus_dimensions() -> int:
    from memories.models import EMBEDDING_DIMENSIONS

    return EMBEDDING_DIMENSIONS


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.setup_django(args.pgdata)
    from memories.models import Space

    slug = args.space or f"api-n{args.n}-u{args.users}-v{corpus.CORPUS_VERSION}"
    space = Space.objects.get(team__slug=args.team, slug=slug)
    sweep = Sweep(args, space)
    load_before = harness.machine()
    vectors, exacts = sweep.queries()
    builds, rows = [], []
    for point in [Point(text) for text in args.points.split(",")]:
        progress(f"{point}: building")
        seconds, size = sweep.build(point)
        took = "kept" if seconds is None else f"{seconds:.0f} s"
        progress(f"  {took}, {size / 2**20:,.0f} MiB; measuring")
        try:
            values = args.probes if point.lists is not None else args.ef
            rows += [sweep.ef_row(point, ef, vectors, exacts) for ef in values]
            rate = sweep.inserts()
        finally:
            if point.extra:
                sweep.drop_half()
        builds.append([str(point), took, size / 2**20, rate])
        progress(f"  inserts {rate:.0f} rows/s")
    print(f"# Index sweep, space {slug} ({args.n:,} memories)\n")
    print(f"Machine: {load_before} before; {harness.machine()} after.\n")
    print(
        md_table(
            ["index", "build", "size MiB", "inserts/s (one per statement)"], builds
        )
    )
    print()
    print(
        md_table(
            ["index", "ef_search / probes", "recall@10 by id", "ties counted",
             "within 1e-3", "p50 ms", "p95 ms", "p99 ms"],
            rows,
        )
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
