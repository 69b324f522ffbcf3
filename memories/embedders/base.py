"""Shared pieces of the embedders: the protocol, the error, the constants.

Importing this module switches the Hugging Face libraries offline before any
of them is imported (they read these variables at import time), so nothing
is ever downloaded from a hub.
"""

from __future__ import annotations

import os

# Forced, not defaulted: a download is never wanted.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# The Rust tokenizer's own thread pool fights gunicorn/Celery forks and our
# one-thread budget.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from typing import Protocol, runtime_checkable

import numpy as np

from memoryhub.errors import Unavailable

DIMENSIONS = 384
BATCH_SIZE = 64


class EmbedderError(Unavailable):
    """The embedder is misconfigured or its endpoint failed (never echoes text)."""

    code = "embedder_unavailable"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors of ``dimensions`` floats."""

    dimensions: int
    name: str

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` in batches; returns an array of shape (len, dims)."""
        ...

    def embed_one(self, text: str) -> np.ndarray:
        """Embed one text; returns an array of shape (dims,)."""
        ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1.0, norms)
