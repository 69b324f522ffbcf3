"""Load benchmark of the REST API at N memories, with mem0 OSS side by side.

1. Loads N synthetic memories (``corpus.py``; default 100,000, 1,000,000
   works) into a space of its own benchmark database. Embeddings are computed
   once and cached under ``var/bench-cache/``; rows are written by
   ``corpus.direct_load`` (the memory service, no HTTP). A later run with the
   same ``--n``/``--users`` reuses the loaded space.
2. Starts gunicorn on a free 127.0.0.1 port (or uses ``--url``) and measures
   through HTTP: add single, add batch (``--batch-size`` per request), get,
   list, and search (vector, hybrid, vector filtered by user): p50/p95/p99
   latency and throughput. Writes go to a scratch space so the corpus stays
   exactly N.
3. API overhead: the same vector search as a raw pgvector query from this
   process (query embedding included, same embedder, same ``ef_search``).
4. Recall@10 of the API's vector search, and of the raw HNSW query, against
   exact search (a sequential scan with index scans disabled): by id, and
   with ties counted (a result no farther than the exact 10th neighbour is
   a hit: the corpus repeats some texts, and exact search orders identical
   vectors arbitrarily). ``--ef-sweep`` adds the raw query's recall and
   latency at other ``hnsw.ef_search`` values, ``--api-ef`` the API's own
   vector search asking for them (``ef_search`` in the request body).
5. mem0 OSS side by side: ``mem0.Memory`` on pgvector in the same embedded
   PostgreSQL, ``add(infer=False)``, same model, the first ``--mem0-n``
   corpus items in both systems; search (scoped to a user, as mem0 requires)
   and add throughput, with MemoryHub/mem0 ratios.

Every loop is bounded by counts; all traffic goes to 127.0.0.1. The report is
Markdown on stdout, progress on stderr.

    .venv/bin/python benchmarks/bench_api.py [--n 100000] [--mem0-n 5000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from contextlib import nullcontext
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import corpus, harness, mem0_peer
from benchmarks.harness import Timing, md_table, measure, progress

TOP_K = 10
TIE_EPSILON = 1e-6  # distances this close count as a tie (identical vectors)
WRITES_BASE = 50_000_000  # corpus indices for write ops, far from the loaded ones


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--n", type=int, default=100_000, help="memories in the corpus space")
    add("--users", type=int, default=100, help="distinct user_ids in the corpus")
    add("--ops", type=int, default=200, help="requests per read operation")
    add("--adds", type=int, default=200, help="single-add requests")
    add("--batches", type=int, default=20, help="batch-add requests")
    add(
        "--cold-batches",
        type=int,
        default=10,
        help="batch-add requests before those, timed apart (graph pages cold)",
    )
    add("--batch-size", type=int, default=100)
    add("--concurrency", type=int, default=1, help="client threads per operation")
    add("--recall-queries", type=int, default=50)
    add(
        "--ef-sweep",
        type=harness.int_list,
        default=[],
        help="also measure the raw HNSW query's recall and latency at these "
        "hnsw.ef_search values, e.g. 100,200,400",
    )
    add(
        "--api-ef",
        type=harness.int_list,
        default=[],
        help="also time the API's vector search, and its recall, with the "
        "request's own ef_search at these values, e.g. 400,800",
    )
    add("--mem0-n", type=int, default=5000, help="memories in both systems for mem0")
    add("--mem0-ops", type=int, default=200, help="searches and single adds for mem0")
    add("--mem0-embedder", choices=("onnx", "torch"), default="onnx")
    add("--skip-mem0", action="store_true")
    add("--workers", type=int, default=2, help="gunicorn workers")
    add("--threads", type=int, default=4, help="gunicorn threads per worker")
    add("--url", help="use a running server (same database) instead of starting one")
    add("--key", help="API key for --url (unscoped, of the team that owns the spaces)")
    add("--pgdata", type=Path, default=harness.DEFAULT_PGDATA)
    add("--seed", type=int, default=7)
    add(
        "--rebuild-index",
        choices=("auto", "yes", "no"),
        default="auto",
        help="drop the HNSW index during the load and rebuild it after "
        "(auto: when loading 50,000 rows or more)",
    )
    return parser.parse_args(argv)


# --- setup -----------------------------------------------------------------------------


def prepare_spaces(args) -> tuple[dict, str]:
    """Corpus, scratch and comparison spaces, loaded; returns them and a key."""
    slugs = {
        "corpus": f"api-n{args.n}-u{args.users}-v{corpus.CORPUS_VERSION}",
        "writes": "api-writes",
        "cmp": f"cmp-n{args.mem0_n}-u{args.users}-v{corpus.CORPUS_VERSION}",
    }
    if args.key:
        from accounts.models import ApiKey
        from accounts.services import split_key

        parts = split_key(args.key)
        api_key = ApiKey.objects.filter(prefix=parts[0]).first() if parts else None
        if api_key is None:
            raise SystemExit("--key is not a key of this database (same --pgdata?)")
        spaces, _ = harness.bootstrap_space(
            team_slug=api_key.team.slug, space_slugs=list(slugs.values())
        )
        key = args.key
    else:
        spaces, key = harness.bootstrap_space(
            team_slug="bench", space_slugs=list(slugs.values())
        )
    spaces = dict(zip(slugs, spaces, strict=True))
    need = max(args.n, 0 if args.skip_mem0 else args.mem0_n)
    progress(f"embeddings for {need} corpus items (cached in {harness.CACHE_DIR})")
    vectors = corpus.embeddings(need, harness.CACHE_DIR)
    corpus.restore_hnsw(harness.CACHE_DIR)
    for name, size in (
        ("corpus", args.n),
        ("cmp", 0 if args.skip_mem0 else args.mem0_n),
    ):
        if size:
            progress(f"loading {size} memories into space {spaces[name].slug}")
            missing = size - corpus.loaded_count(spaces[name])
            rebuild = args.rebuild_index == "yes" or (
                args.rebuild_index == "auto" and missing >= corpus.REBUILD_AT
            )
            rate = corpus.load(
                spaces[name], size, args.users, vectors,
                cache_dir=harness.CACHE_DIR if rebuild else None,
            )  # fmt: skip
            if rate:
                progress(f"  direct_load: {rate:.0f} memories/s")
    return spaces, key


def sample_ids(space, count: int) -> list[str]:
    """``count`` random memory ids of ``space`` (one ORDER BY random() scan)."""
    from memories.models import Memory

    ids = Memory.objects.filter(space=space).order_by("?").values_list("pk", flat=True)
    found = [str(pk) for pk in ids[:count]]
    return (found * (count // max(len(found), 1) + 1))[:count]


# --- HTTP operations -----------------------------------------------------------------------


def http_ops(
    api: harness.Api, writes: harness.Api, args, ids: list[str]
) -> list[Timing]:
    rng = random.Random(args.seed)
    base = WRITES_BASE + int(time.time()) % 1_000_000 * 1000
    conc = args.concurrency

    def add_one(j: int) -> int:
        writes.add(corpus.item(base + j, args.users))
        return 1

    def add_batch(b: int) -> int:
        low = base + args.adds + b * args.batch_size
        results = writes.add_batch(
            [corpus.item(i, args.users) for i in range(low, low + args.batch_size)]
        )
        return sum(r["status"] == "created" for r in results)

    queries = [corpus.query(rng.randrange(10**6)) for _ in range(args.ops)]
    users = [f"user-{rng.randrange(args.users)}" for _ in range(args.ops)]
    # The first run of each query reads the index and heap pages it needs
    # from the OS cache (a 1M-row index is gigabytes): timed apart as the
    # cold figure; the figures after it are a server's steady state. So do
    # the first batch adds: an HNSW insertion reads about 1,600 graph
    # pages, and a server just started has few of them in shared buffers.
    cold_adds = range(args.batches, args.batches + args.cold_batches)
    cold = [
        measure("search vector, first run of each query (cold pages)",
                lambda i: api.search(queries[i], mode="vector"), range(args.ops),
                concurrency=conc),
        measure("search vector, user filter, first run (cold pages)",
                lambda i: api.search(queries[i], mode="vector",
                                     filters={"user_id": users[i]}),
                range(args.ops), concurrency=conc),
        measure(f"add batch ({args.batch_size}/request), first {len(cold_adds)} (cold pages)",
                add_batch, cold_adds, concurrency=conc),
    ]  # fmt: skip
    timings = [
        measure("add single", add_one, range(args.adds), concurrency=conc),
        measure(f"add batch ({args.batch_size}/request)", add_batch, range(args.batches),
                concurrency=conc),
        measure("get by id", lambda i: api.get(ids[i]), range(args.ops),
                concurrency=conc),
        measure("list (user, 50/page)",
                lambda i: api.list(user_id=users[i], limit=50), range(args.ops),
                concurrency=conc),
        measure("search vector", lambda i: api.search(queries[i], mode="vector"),
                range(args.ops), concurrency=conc),
        measure("search hybrid", lambda i: api.search(queries[i], mode="hybrid"),
                range(args.ops), concurrency=conc),
        measure("search vector, user filter",
                lambda i: api.search(queries[i], mode="vector",
                                     filters={"user_id": users[i]}),
                range(args.ops), concurrency=conc),
    ]  # fmt: skip
    return timings + cold


def warm_up(api: harness.Api, writes: harness.Api, workers: int, users: int) -> None:
    """Load the embedder in every worker before anything is timed.

    Parallel requests open several connections, so every worker gets some.
    """

    def touch(j: int) -> None:
        api.search(corpus.query(j), mode="hybrid")
        writes.add(corpus.item(WRITES_BASE - 1 - j, users))

    measure("warm-up", touch, range(8 * workers), concurrency=2 * workers)


# --- raw SQL, overhead and recall ------------------------------------------------------------


class RawSearch:
    """The API's vector search as one pgvector query from this process."""

    def __init__(self, space) -> None:
        import psycopg
        from django.conf import settings
        from pgvector.psycopg import register_vector

        from memories.models import Memory

        self.embedder = corpus.local_embedder(threads=1)  # what a web worker runs
        self.conn = psycopg.connect(harness.database_url(), autocommit=True)
        register_vector(self.conn)
        self.conn.execute(f"SET hnsw.ef_search = {int(settings.HNSW_EF_SEARCH)}")
        self.table, self.space_id = Memory._meta.db_table, space.pk

    def embed(self, text: str):
        return self.embedder.embed([text])[0]

    def knn(self, vector, *, exact: bool = False) -> list[str]:
        """Top k ids by cosine distance: through the HNSW index, or exact.

        Exact adds ``+ 0`` to the sort key (an expression no index provides)
        and turns index scans off, so PostgreSQL must scan and sort. Nothing
        is server-side prepared: a prepared statement would keep its first
        plan whatever the settings (and Django does not prepare either).
        """
        return [memory_id for memory_id, _ in self.knn_distances(vector, exact=exact)]

    def knn_distances(self, vector, *, exact: bool = False) -> list[tuple[str, float]]:
        """:meth:`knn` with each row's cosine distance."""
        order = "(embedding <=> %s) + 0" if exact else "embedding <=> %s"
        sql = (
            f"SELECT id, embedding <=> %s FROM {self.table} WHERE space_id = %s "
            f"AND state = 'active' ORDER BY {order} LIMIT {TOP_K}"
        )
        # Only the exact query needs a transaction (for its SET LOCALs): in
        # autocommit mode it costs a BEGIN and a COMMIT round trip, which
        # the API's search does not pay either.
        with self.conn.transaction() if exact else nullcontext():
            if exact:
                self.conn.execute("SET LOCAL enable_indexscan = off")
                self.conn.execute("SET LOCAL enable_bitmapscan = off")
            cursor = self.conn.execute(
                sql, (vector, self.space_id, vector), prepare=False
            )
            rows = cursor.fetchall()
        return [(str(row[0]), float(row[1])) for row in rows]

    def distances(self, vector, ids: list[str]) -> list[float]:
        """Cosine distances of the rows ``ids`` to ``vector``."""
        rows = self.conn.execute(
            f"SELECT embedding <=> %s FROM {self.table} WHERE id = ANY(%s::uuid[])",
            (vector, ids),
            prepare=False,
        ).fetchall()
        return [float(row[0]) for row in rows]


def overhead_and_recall(api: harness.Api, space, args) -> tuple[list, list, str]:
    raw = RawSearch(space)
    rng = random.Random(args.seed + 1)
    queries = [corpus.query(rng.randrange(10**6)) for _ in range(args.ops)]
    vectors = {}

    # Warm the embedder, and the pages these queries visit (see http_ops):
    # the API search is timed first and must not pay for the raw query's
    # cache.
    for query in queries:
        raw.knn(raw.embed(query))

    def embed_and_knn(i: int) -> None:
        vectors[i] = raw.embed(queries[i])
        raw.knn(vectors[i])

    lean = api.lean()
    timings = [
        measure("API search vector (HTTP)", lambda i: api.search(queries[i], mode="vector"), range(args.ops)),
        # The floor under any API figure: the HTTP client, the socket and
        # gunicorn, for a probe the first middleware answers (no database).
        measure("HTTP round trip only (GET /healthz)", lambda i: api.health(), range(args.ops)),
        # The same two through http.client: the client's own share of the
        # figures above (httpx's CPU on this same machine) mostly gone.
        measure("API search vector (HTTP, http.client)", lambda i: lean.search(queries[i], mode="vector"), range(args.ops)),
        measure("HTTP round trip only (GET /healthz, http.client)", lambda i: lean.health(), range(args.ops)),
        measure("raw SQL: embed + HNSW query", embed_and_knn, range(args.ops)),
        measure("raw SQL: HNSW query only", lambda i: raw.knn(vectors[i]),
                range(args.ops)),
        measure("embed query only", lambda i: raw.embed(queries[i]), range(args.ops)),
    ]  # fmt: skip
    lean.close()
    progress(f"recall: {args.recall_queries} exact searches (sequential scans)")
    # Two counts per system: by id, and "ties counted": a result at no
    # greater distance than the exact 10th neighbour (+ TIE_EPSILON) is as
    # near as the one it replaced. They differ where the corpus holds
    # identical texts (identical vectors), which exact search orders
    # arbitrarily; ann-benchmarks counts the same way (with 1e-3).
    hits = {"API search vector": [0, 0], "raw SQL HNSW": [0, 0]}
    total = 0
    exact_times = []
    exacts = {}
    for i in range(min(args.recall_queries, args.ops)):
        began = time.perf_counter()
        exact_rows = raw.knn_distances(vectors[i], exact=True)
        exact_times.append(time.perf_counter() - began)
        try:
            found = api.search(queries[i], top_k=TOP_K, mode="vector")
        except harness.ApiError as exc:
            progress(f"  recall query {i} failed, skipped: {exc}")
            continue
        exacts[i] = exact_rows
        for name, ids in (
            ("API search vector", [str(r["id"]) for r in found]),
            ("raw SQL HNSW", raw.knn(vectors[i])),
        ):
            by_id, tied = recall_hits(raw, vectors[i], exact_rows, ids)
            hits[name][0] += by_id
            hits[name][1] += tied
        total += len(exact_rows)
    timings.append(
        Timing("exact SQL (seq scan, for recall)", exact_times, sum(exact_times))
    )
    recall = [
        [
            name,
            by_id / total if total else float("nan"),
            tied / total if total else float("nan"),
            total // TOP_K,
        ]
        for name, (by_id, tied) in hits.items()
    ]
    sweep = [ef_point(raw, ef, vectors, exacts) for ef in args.ef_sweep]
    sweep += [
        api_ef_point(api, raw, ef, queries, vectors, exacts) for ef in args.api_ef
    ]
    return timings, recall, sweep, raw.embedder.name


def recall_hits(
    raw: RawSearch, vector, exact_rows, ids, *, epsilon: float = TIE_EPSILON
) -> tuple[int, int]:
    """Hits of ``ids`` among the exact top k: by id, and with ties counted
    (distance at most the exact k-th's + ``epsilon``)."""
    exact = {memory_id for memory_id, _ in exact_rows}
    bound = exact_rows[-1][1] + epsilon if exact_rows else -1.0
    near = sum(d <= bound for d in raw.distances(vector, ids))
    return len(exact & set(ids)), min(near, len(exact))


def ef_point(raw: RawSearch, ef: int, vectors: dict, exacts: dict) -> list:
    """Recall (by id, ties counted) and latency of the raw HNSW query at ``ef``."""
    raw.conn.execute(f"SET hnsw.ef_search = {int(ef)}")
    try:
        return search_point(ef, lambda i: raw.knn(vectors[i]), raw, vectors, exacts)
    finally:
        from django.conf import settings

        raw.conn.execute(f"SET hnsw.ef_search = {int(settings.HNSW_EF_SEARCH)}")


def api_ef_point(
    api: harness.Api,
    raw: RawSearch,
    ef: int,
    queries: list,
    vectors: dict,
    exacts: dict,
) -> list:
    """:func:`ef_point` for the API's vector search over HTTP, the request
    asking for ``ef`` itself (``ef_search`` in the body)."""

    def ids(i: int) -> list[str]:
        found = api.search(queries[i], top_k=TOP_K, mode="vector", ef_search=ef)
        return [str(r["id"]) for r in found]

    return search_point(f"{ef}, API (HTTP)", ids, raw, vectors, exacts)


def search_point(label, ids, raw: RawSearch, vectors: dict, exacts: dict) -> list:
    """``[label, recall by id, ties counted, p50, p95]`` of ``ids(i)``, the
    top k of query ``i``: recall over the queries with an exact answer,
    latency over every query, the pages warmed by ten first."""
    for i in list(exacts)[:10]:
        ids(i)
    by_id = tied = total = 0
    for i, exact_rows in exacts.items():
        by, ti = recall_hits(raw, vectors[i], exact_rows, ids(i))
        by_id, tied, total = by_id + by, tied + ti, total + len(exact_rows)
    timing = measure(str(label), ids, list(vectors))
    return [label, by_id / total, tied / total, timing.pct(50), timing.pct(95)]


# --- mem0 side by side ---------------------------------------------------------------------


def versus_mem0(args, cmp_api: harness.Api, writes: harness.Api, cmp_space, mem0_dir):
    """Search and add in both systems on the same data; rows for the report."""
    from accounts.actors import SYSTEM
    from memories.selectors import memory_search

    url = mem0_peer.ensure_database(harness.database_url())
    collection = f"cmp_n{args.mem0_n}_u{args.users}_v{corpus.CORPUS_VERSION}"
    if mem0_peer.collection_size(url, collection) < args.mem0_n:
        mem0_peer.drop_collection(url, collection)
    memory = mem0_peer.make_memory(
        url=url, collection=collection, history_dir=mem0_dir, backend=args.mem0_embedder
    )
    if mem0_peer.collection_size(url, collection) < args.mem0_n:
        progress(
            f"mem0: loading {args.mem0_n} memories with add(infer=False), 100 per call"
        )
        for low in range(0, args.mem0_n, 100):
            for i in range(low, min(args.mem0_n, low + 100)):
                body = corpus.item(i, args.users)
                memory.add(body["content"], user_id=body["user_id"], infer=False,
                           metadata=body["metadata"])  # fmt: skip
    rng = random.Random(args.seed + 2)
    ops = args.mem0_ops
    queries = [corpus.query(rng.randrange(10**6)) for _ in range(ops)]
    users = [f"user-{rng.randrange(args.users)}" for _ in range(ops)]
    for j in range(5):  # warm both
        memory.search(queries[j], filters={"user_id": users[j]}, top_k=TOP_K)
        cmp_api.search(queries[j], filters={"user_id": users[j]})
    search = [
        (
            measure("MemoryHub HTTP hybrid", lambda i: cmp_api.search(
                queries[i], mode="hybrid", filters={"user_id": users[i]}), range(ops)),
            measure("mem0 search", lambda i: memory.search(
                queries[i], filters={"user_id": users[i]}, top_k=TOP_K, threshold=0.0), range(ops)),
        ),
        (
            measure("MemoryHub HTTP vector", lambda i: cmp_api.search(
                queries[i], mode="vector", filters={"user_id": users[i]}), range(ops)),
            None,
        ),
        (
            measure("MemoryHub in-process hybrid (selector)", lambda i: memory_search(
                actor=SYSTEM, space=cmp_space, query=queries[i], top_k=TOP_K, mode="hybrid",
                filters={"user_id": users[i]}, surface="cli"), range(ops)),
            None,
        ),
    ]  # fmt: skip
    scratch = mem0_peer.make_memory(
        url=url, collection=f"cmp_writes_{int(time.time())}", history_dir=mem0_dir,
        backend=args.mem0_embedder,
    )  # fmt: skip
    base = WRITES_BASE + 900_000_000 + int(time.time()) % 1_000_000 * 1000

    def mem0_add(j: int) -> int:
        body = corpus.item(base + j, args.users)
        scratch.add(body["content"], user_id=body["user_id"], infer=False,
                    metadata=body["metadata"])  # fmt: skip
        return 1

    def mem0_batch(b: int) -> int:
        low = base + ops + b * args.batch_size
        messages = [
            {"role": "user", "content": corpus.text(i)}
            for i in range(low, low + args.batch_size)
        ]
        return len(
            scratch.add(messages, user_id=f"user-{b % args.users}", infer=False)[
                "results"
            ]
        )

    adds = (
        measure("mem0 add single", mem0_add, range(ops)),
        measure(f"mem0 add list of {args.batch_size}", mem0_batch, range(args.batches)),
    )
    scratch.vector_store.delete_col()
    return search, adds


# --- report ---------------------------------------------------------------------------------


def timing_rows(timings: list[Timing]) -> list[list]:
    return [
        [t.name, len(t.latencies), t.errors, t.concurrency, t.pct(50), t.pct(95),
         t.pct(99), t.per_second, t.items_per_second if "add" in t.name else float("nan")]
        for t in timings
    ]  # fmt: skip


TIMING_HEADERS = ["operation", "ok", "errors", "clients", "p50 ms", "p95 ms", "p99 ms",
                  "req/s", "memories/s"]  # fmt: skip


def error_notes(timings: list[Timing]) -> list[str]:
    return [
        f"- {t.name}: {t.errors} failed request(s); first: {t.first_error[:300]}"
        for t in timings
        if t.errors
    ]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mem0_dir = mem0_peer.quiet_mem0_env()  # before anything can import mem0
    harness.setup_django(args.pgdata)
    from django.conf import settings

    spaces, key = prepare_spaces(args)
    ids = sample_ids(spaces["corpus"], args.ops)
    out = ["# MemoryHub API benchmark", ""]
    server = None
    if args.url:
        url = args.url
    else:
        progress(f"starting gunicorn ({args.workers} workers x {args.threads} threads)")
        server = harness.Server(workers=args.workers, threads=args.threads).__enter__()
        url = server.url
    try:
        api = harness.Api(url, key, spaces["corpus"].slug)
        writes = api.for_space(spaces["writes"].slug)
        warm_up(api, writes, args.workers, args.users)
        load_before = harness.machine()
        progress("HTTP operations")
        timings = http_ops(api, writes, args, ids)
        progress("API overhead and recall")
        overhead, recall, sweep, embedder_name = overhead_and_recall(
            api, spaces["corpus"], args
        )
        if not args.skip_mem0:
            progress("mem0 side by side")
            search, mem0_adds = versus_mem0(
                args, api.for_space(spaces["cmp"].slug), writes, spaces["cmp"], mem0_dir
            )
    finally:
        if server is not None:
            server.stop()

    where = (
        "external" if args.url else f"gunicorn {args.workers}x{args.threads} threads"
    )
    out += [
        f"- corpus: {args.n:,} memories, {args.users} users, space `{spaces['corpus'].slug}`",
        f"- server: {url} ({where}); client: {args.concurrency} thread(s) per operation",
        f"- embedder {embedder_name}, {settings.EMBEDDER_THREADS} thread(s) per worker; "
        f"hnsw.ef_search={settings.HNSW_EF_SEARCH}; top_k={TOP_K}",
        f"- machine: {load_before} before the measurements, {harness.machine()} after",
        "",
        f"## HTTP API at N={args.n:,}",
        "",
        md_table(TIMING_HEADERS, timing_rows(timings)),
        "",
        "## API overhead: vector search through HTTP vs one raw pgvector query",
        "",
        md_table(TIMING_HEADERS[:7], [row[:7] for row in timing_rows(overhead)]),
        "",
        "## Recall@10 against exact search",
        "",
        md_table(["search", "recall@10 by id", "recall@10, ties counted", "queries"], recall),
    ]  # fmt: skip
    if sweep:
        out += [
            "",
            "## HNSW query by hnsw.ef_search (same queries; raw SQL, and the API's"
            " vector search asking for it where marked)",
            "",
            md_table(["ef_search", "recall@10 by id", "recall@10, ties counted",
                      "p50 ms", "p95 ms"], sweep),
        ]  # fmt: skip
    if not args.skip_mem0:
        out += ["", *mem0_report(args, search, mem0_adds, timings)]
    every = (
        timings
        + overhead
        + (
            [t for pair in search for t in pair if t] + list(mem0_adds)
            if not args.skip_mem0
            else []
        )
    )
    if error_notes(every):
        out += ["", "## Errors", "", *error_notes(every)]
    print("\n".join(out))
    return 0


def mem0_report(args, search, mem0_adds, timings) -> list[str]:
    mem0_search = search[0][1]
    rows = [
        [hub.name, hub.pct(50), hub.pct(95), mem0_search.pct(50), mem0_search.pct(95),
         hub.pct(95) / mem0_search.pct(95)]
        for hub, _ in search
    ]  # fmt: skip
    hub_single = next(t for t in timings if t.name == "add single")
    hub_batch = next(t for t in timings if t.name.startswith("add batch"))
    mem0_single, mem0_batch = mem0_adds
    adds = [
        ["add one memory per call", hub_single.items_per_second,
         mem0_single.items_per_second,
         hub_single.items_per_second / mem0_single.items_per_second],
        [f"add {args.batch_size} per call", hub_batch.items_per_second,
         mem0_batch.items_per_second,
         hub_batch.items_per_second / mem0_batch.items_per_second],
    ]  # fmt: skip
    return [
        f"## MemoryHub vs mem0 OSS at N={args.mem0_n:,} (search scoped to one user)",
        "",
        f"mem0 {mem0_version()} runs in this process (no HTTP) on pgvector in the same "
        f"PostgreSQL, embedder {args.mem0_embedder}; MemoryHub rows go through HTTP unless "
        "marked in-process. MemoryHub adds are the HTTP adds above (scratch space).",
        "",
        md_table(
            [
                "MemoryHub search",
                "MH p50 ms",
                "MH p95 ms",
                "mem0 p50 ms",
                "mem0 p95 ms",
                "p95 ratio MH/mem0",
            ],
            rows,
        ),
        "",
        md_table(
            ["add throughput", "MemoryHub memories/s", "mem0 memories/s", "MH/mem0"],
            adds,
        ),
    ]


def mem0_version() -> str:
    from importlib.metadata import version

    return version("mem0ai")


if __name__ == "__main__":
    sys.exit(main())
