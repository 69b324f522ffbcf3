"""Overhead of the mem0-compatible API over the native API, and MCP search latency.

1. Uses the corpus space of ``bench_api.py`` (N synthetic memories, default
   100,000; loaded through ``corpus.load`` if missing — do not run both
   scripts at once) and a scratch space for writes, each with its own
   single-space key, which is how the mem0 API picks a key's space.
2. Starts gunicorn (native ``/api/v1`` and mem0 ``/v1``-``/v3`` paths in the
   same processes) and the MCP process (``python -m memories.mcp``) on free
   127.0.0.1 ports.
3. Search and add through both HTTP APIs with the same bodies' meaning, one
   request of each in turn so both see the same machine state: hybrid search
   scoped to a user (top 10), and single adds. The overhead is compat/native
   - 1 at p50 and p95 (target: within 10%). The real ``mem0.MemoryClient``
   is timed too (its own client work included).
4. MCP ``search_memories`` (top 10, scoped to a user) through the official
   SDK client over streamable HTTP, one long-lived session, on both protocol
   eras, and as bare JSON-RPC POSTs (the server's share without the SDK
   client's own work): p50/p95/p99 (target p95 <= 25 ms at 100,000 memories).

Report in Markdown on stdout, progress on stderr; every loop is bounded.

    .venv/bin/python benchmarks/bench_compat.py [--n 100000] [--ops 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import corpus, harness, mem0_peer
from benchmarks.harness import Timing, md_table, progress

TOP_K = 10
WRITES_BASE = 70_000_000  # corpus indices for adds, far from bench_api's


def parse_args(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--n", type=int, default=100_000, help="memories in the corpus space")
    add("--users", type=int, default=100, help="distinct user_ids in the corpus")
    add("--ops", type=int, default=300, help="requests per operation and API")
    add("--adds", type=int, default=150, help="single adds per API")
    add("--mcp-ops", type=int, default=500, help="MCP search calls per protocol")
    add("--workers", type=int, default=2, help="gunicorn workers")
    add("--threads", type=int, default=4, help="gunicorn threads per worker")
    add("--pgdata", type=Path, default=harness.DEFAULT_PGDATA)
    add("--seed", type=int, default=11)
    return parser.parse_args(argv)


# --- setup -------------------------------------------------------------------------


def prepare(args) -> dict:
    """Corpus and scratch spaces (corpus loaded), one single-space key each."""
    corpus_slug = f"api-n{args.n}-u{args.users}-v{corpus.CORPUS_VERSION}"
    (space,), corpus_key = harness.bootstrap_space(
        team_slug="bench", space_slugs=[corpus_slug]
    )
    (writes,), writes_key = harness.bootstrap_space(
        team_slug="bench", space_slugs=["compat-writes"]
    )
    missing = args.n - corpus.loaded_count(space)
    if missing > 0:
        progress(f"embeddings for {args.n} corpus items (cached)")
        vectors = corpus.embeddings(args.n, harness.CACHE_DIR)
        corpus.restore_hnsw(harness.CACHE_DIR)
        progress(f"loading {missing} memories into {space.slug}")
        corpus.load(
            space,
            args.n,
            args.users,
            vectors,
            cache_dir=harness.CACHE_DIR if missing >= corpus.REBUILD_AT else None,
        )
    return {"space": space, "key": corpus_key, "writes": writes, "wkey": writes_key}


class McpProcess:
    """``python -m memories.mcp`` on a free loopback port, in its own session."""

    def __init__(self) -> None:
        """Pick a free port."""
        self.port = harness.free_port()
        self.url = f"http://{harness.HOST}:{self.port}/mcp"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> McpProcess:
        """Start the process and wait until it answers (401 without a key)."""
        import httpx

        command = [sys.executable, "-m", "memories.mcp", "--port", str(self.port)]
        self.proc = subprocess.Popen(
            command, cwd=harness.REPO, env=os.environ.copy(),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the MCP process exited ({self.proc.returncode})")
            try:
                if httpx.post(self.url, json={}, timeout=2).status_code == 401:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.__exit__()
        raise RuntimeError("the MCP process did not start within 120 s")

    def __exit__(self, *exc) -> None:
        """Stop the process group we started."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


# --- native vs mem0-compatible ---------------------------------------------------------


def paired(names: tuple[str, str], calls, count: int) -> tuple[Timing, Timing]:
    """Time ``calls[0](i)`` and ``calls[1](i)`` alternately, ``count`` times each."""
    timings = (Timing(names[0]), Timing(names[1]))
    began = time.perf_counter()
    for i in range(count):
        order = (0, 1) if i % 2 == 0 else (1, 0)  # neither always goes first
        for side in order:
            start = time.perf_counter()
            calls[side](i)
            timings[side].latencies.append(time.perf_counter() - start)
    wall = time.perf_counter() - began
    for timing in timings:
        timing.wall = wall / 2
    return timings


def http_compare(url: str, ctx: dict, args) -> list[tuple[Timing, Timing]]:
    """Search and add, native API vs mem0-compatible API, same server."""
    import httpx

    rng = random.Random(args.seed)
    queries = [corpus.query(rng.randrange(10**6)) for _ in range(args.ops)]
    users = [f"user-{rng.randrange(args.users)}" for _ in range(args.ops)]
    native = harness.Api(url, ctx["key"], ctx["space"].slug)
    native_writes = harness.Api(url, ctx["wkey"], ctx["writes"].slug)
    compat = httpx.Client(
        base_url=url, headers={"Authorization": f"Token {ctx['key']}"}, timeout=300
    )
    compat_writes = httpx.Client(
        base_url=url, headers={"Authorization": f"Token {ctx['wkey']}"}, timeout=300
    )

    def compat_search(i: int) -> None:
        body = {"query": queries[i], "top_k": TOP_K, "filters": {"user_id": users[i]}}
        response = compat.post("/v3/memories/search/", json=body)
        response.raise_for_status()

    base = WRITES_BASE + int(time.time()) % 1_000_000 * 1000

    def native_add(i: int) -> None:
        native_writes.add(corpus.item(base + 2 * i, args.users))

    def compat_add(i: int) -> None:
        body = corpus.item(base + 2 * i + 1, args.users)
        payload = {
            "messages": [{"role": "user", "content": body.pop("content")}],
            "infer": False,
            **body,
        }
        compat_writes.post("/v3/memories/add/", json=payload).raise_for_status()

    progress("warm-up (every gunicorn worker loads the embedder)")
    for i in range(8 * args.workers):
        native.search(queries[i % len(queries)], mode="hybrid")
        compat_search(i % len(queries))
    progress("search: native vs mem0-compatible")
    search = paired(
        ("native POST /api/v1/.../search/", "mem0 POST /v3/memories/search/"),
        (
            lambda i: native.search(
                queries[i], top_k=TOP_K, mode="hybrid", filters={"user_id": users[i]}
            ),
            compat_search,
        ),
        args.ops,
    )
    progress("add: native vs mem0-compatible")
    adds = paired(
        ("native POST /api/v1/.../memories/", "mem0 POST /v3/memories/add/"),
        (native_add, compat_add),
        args.adds,
    )
    return [search, adds]


def memory_client_search(url: str, ctx: dict, args) -> Timing:
    """The same searches through the real ``mem0.MemoryClient``."""
    from mem0 import MemoryClient

    rng = random.Random(args.seed)
    queries = [corpus.query(rng.randrange(10**6)) for _ in range(args.ops)]
    users = [f"user-{rng.randrange(args.users)}" for _ in range(args.ops)]
    client = MemoryClient(api_key=ctx["key"], host=url)
    return harness.measure(
        "mem0.MemoryClient.search",
        lambda i: client.search(queries[i], filters={"user_id": users[i]}, top_k=TOP_K),
        range(args.ops),
    )


# --- MCP -----------------------------------------------------------------------------


async def mcp_search(url: str, key: str, args, mode: str) -> Timing:
    """``search_memories`` through the SDK client, one session, sequential calls."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    rng = random.Random(args.seed + 1)
    queries = [corpus.query(rng.randrange(10**6)) for _ in range(args.mcp_ops)]
    users = [f"user-{rng.randrange(args.users)}" for _ in range(args.mcp_ops)]
    timing = Timing(f"MCP search_memories ({mode})")
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx2.AsyncClient(headers=headers, timeout=300) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode) as client:
            label = client.protocol_version
            for j in range(10):  # warm-up: embedder, connections
                await client.call_tool("search_memories", {"query": queries[j]})
            began = time.perf_counter()
            for i in range(args.mcp_ops):
                arguments = {"query": queries[i], "top_k": TOP_K, "user_id": users[i]}
                start = time.perf_counter()
                result = await client.call_tool("search_memories", arguments)
                timing.latencies.append(time.perf_counter() - start)
                if result.is_error:
                    raise RuntimeError(result.content[0].text)
            timing.wall = time.perf_counter() - began
    timing.name = f"MCP search_memories (protocol {label})"
    return timing


def mcp_raw(url: str, key: str, args, protocol: str) -> Timing:
    """The same call as one JSON-RPC POST per request: the server's share."""
    import httpx

    rng = random.Random(args.seed + 1)
    queries = [corpus.query(rng.randrange(10**6)) for _ in range(args.mcp_ops)]
    users = [f"user-{rng.randrange(args.users)}" for _ in range(args.mcp_ops)]
    headers = {
        "Authorization": f"Bearer {key}",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": protocol,
    }
    meta = {}
    if protocol >= "2026":  # a self-contained request: headers and _meta say it all
        headers.update({"Mcp-Method": "tools/call", "Mcp-Name": "search_memories"})
        meta = {
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": protocol,
                "io.modelcontextprotocol/clientCapabilities": {},
            }
        }
    client = httpx.Client(headers=headers, timeout=300)

    def one(i: int) -> None:
        arguments = {"query": queries[i], "top_k": TOP_K, "user_id": users[i]}
        body = {
            "jsonrpc": "2.0",
            "id": i,
            "method": "tools/call",
            "params": {"name": "search_memories", "arguments": arguments, **meta},
        }
        response = client.post(url, json=body)
        response.raise_for_status()
        if response.json()["result"].get("isError"):
            raise RuntimeError(response.text[:300])

    for j in range(10):
        one(j)
    return harness.measure(
        f"JSON-RPC POST tools/call (protocol {protocol})", one, range(args.mcp_ops)
    )


# --- report --------------------------------------------------------------------------


def overhead_rows(pairs) -> list[list]:
    """Report rows: native vs mem0 latency and the relative overhead."""
    rows = []
    for native, compat in pairs:
        rows.append(
            [
                compat.name,
                native.name,
                len(compat.latencies),
                native.pct(50),
                compat.pct(50),
                100 * (compat.pct(50) / native.pct(50) - 1),
                native.pct(95),
                compat.pct(95),
                100 * (compat.pct(95) / native.pct(95) - 1),
            ]
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    """Set up, measure, print the report."""
    args = parse_args(argv)
    mem0_peer.quiet_mem0_env()  # before anything can import mem0
    harness.setup_django(args.pgdata)
    from django.conf import settings

    ctx = prepare(args)
    progress(f"starting gunicorn ({args.workers}x{args.threads}) and the MCP process")
    with (
        harness.Server(workers=args.workers, threads=args.threads) as server,
        McpProcess() as mcp,
    ):
        load_before = harness.machine()
        pairs = http_compare(server.url, ctx, args)
        progress("mem0.MemoryClient search")
        client_timing = memory_client_search(server.url, ctx, args)
        progress("MCP search")
        mcp_timings = [
            asyncio.run(mcp_search(mcp.url, ctx["key"], args, mode))
            for mode in ("auto", "legacy")
        ]
        mcp_timings += [
            mcp_raw(mcp.url, ctx["key"], args, protocol)
            for protocol in ("2026-07-28", "2025-11-25")
        ]
        load_after = harness.machine()
    out = [
        "# mem0-compatible API and MCP endpoint benchmark",
        "",
        f"- corpus: {args.n:,} memories, {args.users} users, space "
        f"`{ctx['space'].slug}`; searches are hybrid, top {TOP_K}, scoped to a user",
        f"- web: gunicorn {args.workers}x{args.threads} threads; MCP: one uvicorn "
        f"process; embedder threads {settings.EMBEDDER_THREADS}, "
        f"hnsw.ef_search={settings.HNSW_EF_SEARCH}",
        f"- machine: {load_before} before, {load_after} after",
        "",
        "## mem0-compatible API vs native API (same server, same data, alternating)",
        "",
        md_table(
            [
                "mem0 path",
                "native path",
                "requests each",
                "native p50 ms",
                "mem0 p50 ms",
                "p50 overhead %",
                "native p95 ms",
                "mem0 p95 ms",
                "p95 overhead %",
            ],
            overhead_rows(pairs),
        ),
        "",
        "The real client adds its own work on top of the server's:",
        "",
        md_table(
            ["client", "calls", "p50 ms", "p95 ms", "p99 ms"],
            [
                [
                    client_timing.name,
                    len(client_timing.latencies),
                    client_timing.pct(50),
                    client_timing.pct(95),
                    client_timing.pct(99),
                ]
            ],
        ),
        "",
        f"## MCP tool-call latency at N={args.n:,} (target p95 <= 25 ms)",
        "",
        md_table(
            ["tool call", "calls", "p50 ms", "p95 ms", "p99 ms", "calls/s"],
            [
                [
                    t.name,
                    len(t.latencies),
                    t.pct(50),
                    t.pct(95),
                    t.pct(99),
                    t.per_second,
                ]
                for t in mcp_timings
            ],
        ),
    ]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
