"""Where a search request's time goes, in one web process.

Loads ``--n`` corpus memories (``corpus.py``, cached embeddings) into a
space of the benchmark database, then drives ``POST .../search/`` through
Django's real WSGI handler — every middleware, authentication, the view,
the serializer, JSON rendering — in this process, without a socket, and
reports per request:

- wall time until the response body is there (what a client waits for;
  the server closes the response after sending it), CPU time of the whole
  request including that close, of the query embedding alone and
  of the same raw pgvector query (``bench_api.RawSearch``); the difference
  is what the API adds (the issue's "HTTP search minus raw embed + query");
- the SQL statements the request runs (count and their total time), and
  its database round trips as libpq's trace of the connection shows them
  (everything the connection sent and got, the pool's checks included);
- with ``--ab SETTING=VALUE``, the search again in alternating blocks with
  a Django setting overridden and as configured (an A/B in one run, which
  the machine's drift between runs does not blur);
- with ``--profile``, a cProfile of the requests (top functions by own
  time and by cumulative time) to see what to cut.

    .venv/bin/python benchmarks/profile_search.py [--n 5000] [--requests 300]
        [--mode vector] [--user-filter] [--profile] [--ab DB_CHECK_IDLE_SECONDS=0]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import cProfile
import io
import json
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import corpus, harness
from benchmarks.harness import md_table, progress


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--n", type=int, default=5000, help="memories in the profiled space")
    add("--users", type=int, default=100)
    add("--requests", type=int, default=300)
    add("--mode", choices=("vector", "hybrid", "keyword"), default="vector")
    add("--user-filter", action="store_true", help="filter by one user_id")
    add("--profile", action="store_true", help="print a cProfile of the requests")
    add("--top", type=int, default=35, help="rows of each profile table")
    add("--profile-out", type=Path, help="also save the raw cProfile stats here")
    add(
        "--ab",
        metavar="SETTING=VALUE",
        help="also time searches with this Django setting overridden, in blocks "
        "alternating with the configured value (VALUE a Python literal)",
    )
    add("--space", help="profile this loaded space (e.g. bench_api's) instead")
    add("--team", default="bench", help="team of --space")
    add("--pgdata", type=Path, default=harness.DEFAULT_PGDATA)
    add("--seed", type=int, default=11)
    return parser.parse_args(argv)


class Wsgi:
    """Requests straight into Django's WSGI handler (no socket, no server)."""

    def __init__(self, secret: str) -> None:
        from django.core.handlers.wsgi import WSGIHandler

        self.handler = WSGIHandler()
        self.auth = f"Bearer {secret}"

    def post(self, path: str, body: dict) -> tuple[int, bytes]:
        return self.request("POST", path, json.dumps(body).encode())

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request("GET", path, b"")

    def request(self, method: str, path: str, data: bytes) -> tuple[int, bytes]:
        path, _, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(data)),
            "HTTP_AUTHORIZATION": self.auth,
            "wsgi.input": io.BytesIO(data),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.version": (1, 0),
        }
        status = []
        chunks = self.handler(environ, lambda s, h, *a: status.append(s))
        body_bytes = b"".join(chunks)
        self.close = getattr(chunks, "close", lambda: None)
        return int(status[0].split()[0]), body_bytes


class SqlCounter:
    """Counts the statements Django runs and their time (execute wrapper)."""

    def __init__(self) -> None:
        self.statements = 0
        self.seconds = 0.0
        self.last: list[tuple[float, str]] = []  # the latest request's
        self.by_kind: dict[str, list[float]] = {}  # statement start -> times

    def __call__(self, execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            took = time.perf_counter() - began
            self.seconds += took
            self.statements += 1
            self.last.append((took, sql))
            self.by_kind.setdefault(" ".join(sql.split())[:70], []).append(took)


def _ms(values: list[float]) -> list[str]:
    ordered = sorted(values)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return [f"{1000 * statistics.median(ordered):.2f}", f"{1000 * pct(0.95):.2f}"]


def _floors(
    wsgi: Wsgi, counter: SqlCounter, requests: int, memory_path: str
) -> list[list[str]]:
    """Rows for what any request costs in this stack, to read the search's
    overhead against: the first middleware answering alone (``/healthz``),
    and an authenticated get by id (every middleware, DRF, the key, the
    throttle, the space lookup, one statement, one decryption, the audit
    row after the response) — everything a search pays but the embedding,
    the index scan and nine more rows — also without its SQL time."""
    rows = []
    for label, path in (
        ("floor: GET /healthz (first middleware only)", "/healthz"),
        ("floor: GET a memory by id (the whole API path, one row)", memory_path),
    ):
        wall, cpu, python = [], [], []
        for _ in range(requests):
            sql_before = counter.seconds
            began, began_cpu = time.perf_counter(), time.process_time()
            status, answer = wsgi.get(path)
            wall.append(time.perf_counter() - began)
            python.append(wall[-1] - (counter.seconds - sql_before))
            wsgi.close()
            cpu.append(time.process_time() - began_cpu)
            assert status == 200, answer[:500]
        rows.append([label, *_ms(wall), *_ms(cpu)])
    rows.append(["floor: the same get by id minus its SQL time", *_ms(python), "", ""])
    return rows


class RoundTrips:
    """Counts the database round trips of requests from libpq's trace.

    Every connection Django opens (from the pool: every request's) gets a
    trace to a temporary file, kept across requests; a round trip is a
    ``ReadyForQuery`` from the server (one per simple query, one per
    extended-protocol sync), whatever sent it: Django, the pool's check,
    psycopg itself.
    """

    def __init__(self) -> None:
        from django.db.backends.signals import connection_created

        self.file = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in stop)
        self.traced: list = []
        self.signal = connection_created
        self.signal.connect(self.attach, weak=False)

    def attach(self, sender, connection, **kwargs) -> None:
        pgconn = connection.connection.pgconn
        if not any(traced is pgconn for traced in self.traced):
            pgconn.trace(self.file.fileno())
            self.traced.append(pgconn)

    def count(self) -> int:
        self.file.flush()
        self.file.seek(0)
        return sum("ReadyForQuery" in line for line in self.file)

    def stop(self) -> None:
        self.signal.disconnect(self.attach)
        for pgconn in self.traced:
            with contextlib.suppress(Exception):  # closed since
                pgconn.untrace()
        self.file.close()


def _round_trips(wsgi: Wsgi, requests: list[tuple[str, dict | None]]) -> float:
    """Database round trips per request over ``requests`` (path, body or GET)."""
    tracer = RoundTrips()
    try:

        def run(path: str, payload: dict | None) -> None:
            status, answer = wsgi.post(path, payload) if payload else wsgi.get(path)
            wsgi.close()
            assert status == 200, answer[:500]

        for path, payload in requests[:5]:  # every pooled connection traced first
            run(path, payload)
        before = tracer.count()
        for path, payload in requests[5:]:
            run(path, payload)
        return (tracer.count() - before) / len(requests[5:])
    finally:
        tracer.stop()


def _ab(wsgi: Wsgi, path: str, body, requests: int, setting: str) -> list[list[str]]:
    """Rows for the search as configured and with ``setting`` (NAME=VALUE),
    in alternating blocks of 25 requests."""
    from django.test import override_settings

    name, _, text = setting.partition("=")
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        value = text
    timings: dict[bool, list[float]] = {False: [], True: []}
    for block in range(max(2, requests // 25)):
        overridden = block % 2 == 1
        scope = (
            override_settings(**{name: value})
            if overridden
            else contextlib.nullcontext()
        )
        with scope:
            for i in range(25):
                began = time.perf_counter()
                status, answer = wsgi.post(path, body((block * 25 + i) % requests))
                timings[overridden].append(time.perf_counter() - began)
                wsgi.close()
                assert status == 200, answer[:500]
    return [
        ["A/B: search as configured", *_ms(timings[False]), "", ""],
        [f"A/B: search with {name}={value!r}", *_ms(timings[True]), "", ""],
    ]


def main(argv=None) -> int:
    args = parse_args(argv)
    harness.setup_django(args.pgdata)
    from django.db import connection

    from benchmarks.bench_api import RawSearch

    (space,), secret = harness.bootstrap_space(
        team_slug=args.team if args.space else "profile",
        space_slugs=[args.space or f"profile-{args.n}"],
    )
    if not args.space and corpus.loaded_count(space) < args.n:
        progress(f"loading {args.n} memories")
        vectors = corpus.embeddings(args.n, harness.CACHE_DIR)
        corpus.load(space, args.n, args.users, vectors)
    path = f"/api/v1/spaces/{space.slug}/search/"
    wsgi = Wsgi(secret)
    rng = random.Random(args.seed)
    queries = [corpus.query(rng.randrange(10**6)) for _ in range(args.requests)]

    def body(i: int) -> dict:
        payload = {"query": queries[i], "top_k": 10, "mode": args.mode}
        if args.user_filter:
            payload["filters"] = {"user_id": f"user-{i % args.users}"}
        return payload

    for i in range(30):  # warm: embedder, pools, caches, index pages
        status, answer = wsgi.post(path, body(i % len(queries)))
        wsgi.close()
        assert status == 200, answer[:500]
    raw = RawSearch(space)
    # The pages each query visits, read once before anything is timed: the
    # request is timed first and must not pay for the raw query's cache (at
    # 1M the index is gigabytes; a first visit reads from the OS cache).
    for query in queries:
        raw.knn(raw.embed(query))
    counter = SqlCounter()
    wall, cpu, statements, sql_seconds = [], [], [], []
    sql_in_request = []  # before the response is closed
    found = None  # a memory id, for the get-by-id floor
    profiler = cProfile.Profile() if args.profile else None
    with connection.execute_wrapper(counter):
        for i in range(args.requests):
            before = (counter.statements, counter.seconds)
            counter.last = []
            began, began_cpu = time.perf_counter(), time.process_time()
            if profiler:
                profiler.enable()
            status, answer = wsgi.post(path, body(i))
            if profiler:
                profiler.disable()
            # What the client waits for: the body. The server closes the
            # response after sending it (the deferred audit row), timed apart.
            wall.append(time.perf_counter() - began)
            cpu_request = time.process_time() - began_cpu
            sql_in_request.append(counter.seconds - before[1])
            began_close = time.process_time()
            wsgi.close()
            cpu.append(cpu_request + time.process_time() - began_close)
            statements.append(counter.statements - before[0])
            sql_seconds.append(counter.seconds - before[1])
            assert status == 200, answer[:500]
            if not found:
                found = next(iter(json.loads(answer)["results"]), {}).get("id")
    floor_counter = SqlCounter()
    with connection.execute_wrapper(floor_counter):
        memory_path = f"/api/v1/spaces/{space.slug}/memories/{found}/"
        floors = _floors(wsgi, floor_counter, args.requests, memory_path)
    trips = _round_trips(wsgi, [(path, body(i % len(queries))) for i in range(25)])
    trips_get = _round_trips(wsgi, [(memory_path, None)] * 25)
    ab_rows = _ab(wsgi, path, body, args.requests, args.ab) if args.ab else []
    embed_wall, embed_cpu, knn_wall = [], [], []
    for i in range(args.requests):
        began, began_cpu = time.perf_counter(), time.process_time()
        vector = raw.embed(queries[i])
        embed_wall.append(time.perf_counter() - began)
        embed_cpu.append(time.process_time() - began_cpu)
        began = time.perf_counter()
        raw.knn(vector)
        knn_wall.append(time.perf_counter() - began)
    overhead = [w - e - k for w, e, k in zip(wall, embed_wall, knn_wall, strict=True)]
    python = [
        w - e - q for w, e, q in zip(wall, embed_wall, sql_in_request, strict=True)
    ]
    rows = [
        ["search request (WSGI, in process)", *_ms(wall), *_ms(cpu)],
        ["embed query only", *_ms(embed_wall), *_ms(embed_cpu)],
        ["raw HNSW query only", *_ms(knn_wall), "", ""],
        ["API overhead (request - embed - raw query)", *_ms(overhead), "", ""],
        # The whole embedding is subtracted, though the request overlaps
        # part of it with the space lookup: this row reads low by that part.
        ["search request - embed - its SQL time (a lower bound)", *_ms(python), "", ""],
        [
            "SQL per request, the audit row after the response included (sum)",
            *_ms(sql_seconds),
            "",
            "",
        ],
        *floors,
        *ab_rows,
    ]
    size = f"space {args.space}" if args.space else f"{args.n} memories"
    print(f"# Search request profile: {size}, mode {args.mode}"
          f"{', user filter' if args.user_filter else ''}, {args.requests} requests\n")  # fmt: skip
    print(harness.machine() + "\n")
    print(
        md_table(["", "wall p50 ms", "wall p95 ms", "CPU p50 ms", "CPU p95 ms"], rows)
    )
    print(f"\nSQL statements per request: median {statistics.median(statements):.0f},"
          f" max {max(statements)}")  # fmt: skip
    print(f"Database round trips per request (libpq trace): search {trips:.2f},"
          f" get by id {trips_get:.2f}")  # fmt: skip
    print("\nStatements by kind (p50 / p95 ms, count):\n")
    for kind, times in sorted(counter.by_kind.items(), key=lambda kv: -sum(kv[1])):
        p50, p95 = _ms(times)
        print(f"- {p50} / {p95} ms, {len(times)}x `{kind}`")
    if profiler and args.profile_out:
        profiler.dump_stats(args.profile_out)
    if profiler:
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order)
            stats.print_stats(args.top)
            print(f"\n## cProfile by {order}\n\n```\n{out.getvalue().strip()}\n```")
    return 0


if __name__ == "__main__":
    sys.exit(main())
