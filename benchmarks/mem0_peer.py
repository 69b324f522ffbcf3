"""mem0 OSS (``mem0.Memory``) as a benchmark peer, fully offline.

The peer runs in the benchmark's own process on the same embedded PostgreSQL
as MemoryHub (its own database, ``mem0bench``), with pgvector as the vector
store and the same all-MiniLM-L6-v2 weights. Facts about mem0ai 2.2.x this
relies on (see DESIGN.md): telemetry is on unless ``MEM0_TELEMETRY=False`` is
set *before* ``mem0`` is imported; ``MEM0_DIR`` receives a ``config.json`` on
import; an OpenAI client is built at construction and needs an ``api_key``
even though ``add(infer=False)`` and ``search`` never call the LLM, so its base
URL points at a closed local port (a stray call fails fast, offline).

Embedding backend: ``onnx`` (default) gives mem0 the very ONNX int8 model the
MemoryHub web workers use (exported by ``make model``), so the comparison is
of the two systems rather than of two inference runtimes; ``torch`` is what a
stock mem0 HuggingFace embedder would run.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

DIMENSIONS = 384
CLOSED_PORT_URL = "http://127.0.0.1:9/v1"  # discard port: nothing listens here
DATABASE = "mem0bench"


def quiet_mem0_env(mem0_dir: Path | None = None) -> Path:
    """Set the variables mem0 reads at import time; returns its directory."""
    if "mem0" in sys.modules:
        raise RuntimeError("mem0 was imported before its environment was set")
    mem0_dir = mem0_dir or Path(tempfile.mkdtemp(prefix="mem0-bench-"))
    os.environ["MEM0_TELEMETRY"] = "False"
    os.environ["MEM0_DIR"] = str(mem0_dir)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return mem0_dir


def ensure_database(admin_url: str, name: str = DATABASE) -> str:
    """Create database ``name`` with pgvector on the server of ``admin_url``."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    with psycopg.connect(
        make_conninfo(admin_url, dbname="postgres"), autocommit=True
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(admin_url, dbname=name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return url


def drop_collection(url: str, collection: str) -> None:
    """Drop a mem0 collection table so a run starts empty."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(collection))
        )


def collection_size(url: str, collection: str) -> int:
    """Rows in a mem0 collection table (0 if it does not exist)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass(%s)", [collection]).fetchone()[0] is None:
            return 0
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(collection))
        return conn.execute(query).fetchone()[0]


def embedder_config(backend: str = "onnx", threads: int = 1) -> dict:
    """mem0 ``huggingface`` embedder config loading the local model by path."""
    from memories.embedders import (
        MODEL_NAME,
        model_root,
        resolve_backend,
        source_model_path,
    )

    if backend == "torch":
        import torch

        # One thread embedded ~6x faster than two on these 2-core machines.
        torch.set_num_threads(threads)
        return {
            "model": str(source_model_path()),
            "embedding_dims": DIMENSIONS,
            "model_kwargs": {"device": "cpu", "local_files_only": True},
        }
    import onnxruntime as ort

    export_dir = model_root() / MODEL_NAME
    concrete, onnx_file = resolve_backend("auto", export_dir)
    if onnx_file is None:
        raise SystemExit(
            f"No ONNX export under {export_dir}: run `make model` first, or use "
            "--mem0-embedder torch."
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return {
        "model": str(export_dir),
        "embedding_dims": DIMENSIONS,
        "model_kwargs": {
            "device": "cpu",
            "backend": "onnx",
            "local_files_only": True,
            "model_kwargs": {
                "file_name": onnx_file.name,
                "export": False,
                "provider": "CPUExecutionProvider",
                "session_options": options,
            },
        },
        "_backend": concrete,
    }


def make_memory(
    *,
    url: str,
    collection: str,
    history_dir: Path,
    backend: str = "onnx",
    llm_url: str = CLOSED_PORT_URL,
):
    """A ``mem0.Memory`` on pgvector at ``url`` with the local embedder; its LLM
    is ``llm_url`` (a closed port by default: never called)."""
    embedder = embedder_config(backend)
    embedder.pop("_backend", None)
    from mem0 import Memory

    config = {
        "vector_store": {
            "provider": "pgvector",
            "config": {
                "connection_string": url,
                "collection_name": collection,
                "embedding_model_dims": DIMENSIONS,
                "hnsw": True,
                "minconn": 1,
                "maxconn": 4,
            },
        },
        "embedder": {"provider": "huggingface", "config": embedder},
        "llm": {
            "provider": "openai",
            "config": {
                "api_key": "offline-benchmark-no-llm-call",
                "openai_base_url": llm_url,
                "model": "gpt-4o-mini",
            },
        },
        "history_db_path": str(history_dir / f"{collection}-history.db"),
    }
    return Memory.from_config(config)


def result_ids(response: dict) -> list[str]:
    """Memory ids of a ``Memory.add``/``search`` response, in order."""
    return [item["id"] for item in response.get("results", [])]
