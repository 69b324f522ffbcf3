"""Retrieval quality on the labelled conversational set: MemoryHub vs mem0 OSS.

Loads ``data/memories.jsonl`` into a fresh MemoryHub space through the REST
API (batch endpoint) and into a fresh ``mem0.Memory`` collection (pgvector on
the same embedded PostgreSQL, ``add(infer=False)``), then asks every question
of ``data/queries.jsonl`` scoped to its user (``filters={"user_id": ...}``,
top 10) and reports recall@1/5/10 and MRR per system, overall and per query
kind (paraphrase, rare_term, code, multi).

Systems: ``exact`` (brute-force cosine in numpy with the same embedder: the
ceiling for any vector index), ``hub-vector``, ``hub-hybrid`` and
``hub-keyword`` (MemoryHub's three search modes, through HTTP) and ``mem0``.
Recall@k counts the share of a query's relevant memories found in the top k,
out of at most k (so a query with 6 relevant memories can reach 1.0 at k=5).

``--background N`` adds N synthetic memories per user (``corpus.py``) to
every system first, so the labelled memories must be found among more
distractors.

    .venv/bin/python benchmarks/bench_retrieval.py [--systems ...] [--background N]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import harness, mem0_peer
from benchmarks.harness import md_table, progress

DATA = Path(__file__).resolve().parent / "data"
SYSTEMS = ("exact", "hub-vector", "hub-hybrid", "hub-keyword", "mem0")
KINDS = ("paraphrase", "rare_term", "code", "multi")
KS = (1, 5, 10)
TOP_K = 10


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def background_items(users: list[str], per_user: int) -> list[dict]:
    """Synthetic distractors, ``per_user`` for each user, tagged ``bg<n>``."""
    from benchmarks import corpus

    items, n = [], 0
    for user in users:
        for _ in range(per_user):
            items.append({"id": f"bg{n}", "user_id": user, "content": corpus.text(n)})
            n += 1
    return items


def score(ranked: list[str], relevant: list[str]) -> dict[str, float]:
    """recall@k (out of min(|relevant|, k)), reciprocal rank, result count."""
    wanted = set(relevant)
    out = {f"R@{k}": len(wanted & set(ranked[:k])) / min(len(wanted), k) for k in KS}
    out["MRR"] = next((1 / (i + 1) for i, m in enumerate(ranked) if m in wanted), 0.0)
    out["hits"] = float(len(ranked))  # short lists cost recall too
    return out


def summarise(rankings: dict[str, list[str]], queries: list[dict]) -> dict[str, dict]:
    """Mean metrics per query kind and overall (``all``)."""
    sums: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for query in queries:
        metrics = score(rankings.get(query["id"], []), query["relevant"])
        for kind in ("all", query["kind"]):
            for name, value in metrics.items():
                sums[kind][name].append(value)
    return {
        kind: {name: sum(v) / len(v) for name, v in metrics.items()}
        | {"n": len(metrics["MRR"])}
        for kind, metrics in sums.items()
    }


# --- systems -------------------------------------------------------------------------------


def run_exact(memories: list[dict], queries: list[dict]) -> tuple[dict, list[float]]:
    """Brute-force cosine per user with the MemoryHub embedder (no database)."""
    import numpy as np

    from benchmarks import corpus

    embedder = corpus.local_embedder(threads=1)
    vectors = embedder.embed([m["content"] for m in memories])
    by_user: dict[str, list[int]] = defaultdict(list)
    for index, memory in enumerate(memories):
        by_user[memory["user_id"]].append(index)
    rankings, latencies = {}, []
    for query in queries:
        began = time.perf_counter()
        rows = by_user[query["user_id"]]
        sims = vectors[rows] @ embedder.embed([query["query"]])[0]
        order = np.argsort(-sims)[:TOP_K]
        rankings[query["id"]] = [memories[rows[i]]["id"] for i in order]
        latencies.append(time.perf_counter() - began)
    return rankings, latencies


def load_hub(api: harness.Api, memories: list[dict]) -> dict[str, str]:
    """Add memories through the batch endpoint; returns API id -> bench id."""
    ids: dict[str, str] = {}
    for low in range(0, len(memories), 500):
        chunk = memories[low : low + 500]
        body = [
            {
                "content": m["content"],
                "user_id": m["user_id"],
                "metadata": {"bench_id": m["id"]},
            }
            for m in chunk
        ]
        for memory, result in zip(chunk, api.add_batch(body), strict=True):
            if result["status"] == "error":
                raise harness.ApiError(
                    f"{memory['id']} rejected: {result.get('error')}"
                )
            ids[str(result["id"])] = memory["id"]
    return ids


def run_hub(
    api: harness.Api, ids: dict, queries: list[dict], mode: str
) -> tuple[dict, list]:
    rankings, latencies = {}, []
    for query in queries:
        began = time.perf_counter()
        results = api.search(
            query["query"],
            top_k=TOP_K,
            mode=mode,
            filters={"user_id": query["user_id"]},
        )
        latencies.append(time.perf_counter() - began)
        rankings[query["id"]] = [ids.get(str(r["id"]), "?") for r in results]
    return rankings, latencies


def run_mem0(
    memories, queries, *, backend: str, mem0_dir: Path
) -> tuple[dict, list, float]:
    """Load into a fresh mem0 collection, search every query; returns add rate too."""
    url = mem0_peer.ensure_database(harness.database_url())
    collection = f"retrieval_{int(time.time())}"
    memory_store = mem0_peer.make_memory(
        url=url, collection=collection, history_dir=mem0_dir, backend=backend
    )
    ids: dict[str, str] = {}
    began = time.perf_counter()
    for memory in memories:
        response = memory_store.add(
            memory["content"], user_id=memory["user_id"], infer=False,
            metadata={"bench_id": memory["id"]},
        )  # fmt: skip
        for mem0_id in mem0_peer.result_ids(response):
            ids[mem0_id] = memory["id"]
    add_rate = len(memories) / (time.perf_counter() - began)
    rankings, latencies = {}, []
    for query in queries:
        began = time.perf_counter()
        response = memory_store.search(
            query["query"],
            filters={"user_id": query["user_id"]},
            top_k=TOP_K,
            threshold=0.0,
        )
        latencies.append(time.perf_counter() - began)
        rankings[query["id"]] = [
            ids.get(i, "?") for i in mem0_peer.result_ids(response)
        ]
    mem0_peer.drop_collection(url, collection)
    return rankings, latencies, add_rate


# --- report --------------------------------------------------------------------------------


def report(
    results: dict[str, dict], latencies: dict[str, list[float]], notes: list[str]
) -> str:
    import numpy as np

    overall = md_table(
        ["system", "R@1", "R@5", "R@10", "MRR", "results/query", "search p50 ms",
         "search p95 ms"],
        [
            [name, r["all"]["R@1"], r["all"]["R@5"], r["all"]["R@10"], r["all"]["MRR"],
             r["all"]["hits"], float(np.percentile(latencies[name], 50)) * 1000,
             float(np.percentile(latencies[name], 95)) * 1000]
            for name, r in results.items()
        ],
    )  # fmt: skip
    by_kind = md_table(
        ["system", "kind", "queries", "R@1", "R@5", "R@10", "MRR"],
        [
            [name, kind, r[kind]["n"], r[kind]["R@1"], r[kind]["R@5"], r[kind]["R@10"],
             r[kind]["MRR"]]
            for name, r in results.items()
            for kind in KINDS
            if kind in r
        ],
    )  # fmt: skip
    head = "\n".join(f"- {note}" for note in notes)
    return f"## Retrieval quality\n\n{head}\n\n{overall}\n\n### By query kind\n\n{by_kind}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument(
        "--background",
        type=int,
        default=0,
        metavar="N",
        help="synthetic distractor memories per user (default 0)",
    )
    parser.add_argument("--pgdata", type=Path, default=harness.DEFAULT_PGDATA)
    parser.add_argument("--url", help="use a running server instead of starting one")
    parser.add_argument("--key", help="API key for --url")
    parser.add_argument("--space", help="space slug for --url (should be empty)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--mem0-embedder", choices=("onnx", "torch"), default="onnx")
    parser.add_argument("--limit", type=int, default=0, help="only the first N queries")
    args = parser.parse_args(argv)  # fmt: skip
    if args.url and not (args.key and args.space):
        parser.error("--url needs --key and --space (an empty space the key can write)")

    mem0_dir = mem0_peer.quiet_mem0_env()  # before anything can import mem0
    harness.setup_django(args.pgdata)
    memories = read_jsonl(DATA / "memories.jsonl")
    queries = read_jsonl(DATA / "queries.jsonl")
    if args.limit:
        queries = queries[: args.limit]
    users = sorted({m["user_id"] for m in memories})
    everything = background_items(users, args.background) + memories
    notes = [
        f"{len(memories)} labelled memories, {len(queries)} queries, {len(users)} users; "
        f"{args.background} synthetic distractors per user",
        f"every search is scoped to the query's user; top_k={TOP_K}",
    ]
    results: dict[str, dict] = {}
    latencies: dict[str, list[float]] = {}

    if "exact" in args.systems:
        progress("exact: embedding and ranking in numpy")
        rankings, latencies["exact"] = run_exact(everything, queries)
        results["exact"] = summarise(rankings, queries)

    hub_modes = [s.removeprefix("hub-") for s in args.systems if s.startswith("hub-")]
    if hub_modes:
        if args.url:
            api = harness.Api(args.url, args.key, args.space)
            run_hub_modes(api, everything, queries, hub_modes, results, latencies)
        else:
            [space], key = harness.bootstrap_space(
                team_slug="bench", space_slugs=[f"retrieval-{int(time.time())}"]
            )
            progress(
                f"starting gunicorn ({args.workers} workers x {args.threads} threads)"
            )
            with harness.Server(workers=args.workers, threads=args.threads) as server:
                api = harness.Api(server.url, key, space.slug)
                run_hub_modes(api, everything, queries, hub_modes, results, latencies)
        notes.append("MemoryHub: every call through the REST API (HTTP on 127.0.0.1)")

    if "mem0" in args.systems:
        progress(f"mem0: loading {len(everything)} memories with add(infer=False)")
        rankings, latencies["mem0"], add_rate = run_mem0(
            everything, queries, backend=args.mem0_embedder, mem0_dir=mem0_dir
        )
        results["mem0"] = summarise(rankings, queries)
        notes.append(
            f"mem0 OSS {mem0_version()}: in-process Memory, pgvector, "
            f"{args.mem0_embedder} embedder, threshold=0; added {add_rate:.0f} memories/s"
        )
    notes.append(f"machine: {harness.machine()}")
    print(report(results, latencies, notes))
    return 0


def run_hub_modes(api, memories, queries, modes, results, latencies) -> None:
    progress(f"MemoryHub: loading {len(memories)} memories through the batch API")
    ids = load_hub(api, memories)
    # Parallel requests reach every worker, so none loads its embedder mid-run.
    harness.measure(
        "warm-up", lambda j: api.search(f"warm up {j}", mode="hybrid"), range(16),
        concurrency=8,
    )  # fmt: skip
    for mode in modes:
        progress(f"MemoryHub {mode}: {len(queries)} searches")
        rankings, latencies[f"hub-{mode}"] = run_hub(api, ids, queries, mode)
        results[f"hub-{mode}"] = summarise(rankings, queries)


def mem0_version() -> str:
    from importlib.metadata import version

    return version("mem0ai")


if __name__ == "__main__":
    sys.exit(main())
