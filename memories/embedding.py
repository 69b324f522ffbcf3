"""Embedding texts with the process-wide embedder, for writes and searches.

The embedder stack (numpy, tokenizers, maybe torch) is imported on first use,
not when services or selectors are imported.
"""

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from memoryhub.metrics import EMBEDDER_CALLS, EMBEDDER_SECONDS, EMBEDDER_TEXTS

EMBED_CHUNK = 32  # texts per embedding call when embedding overlaps inserts


def embed_texts(texts: Sequence[str]):
    """Embed texts with the process-wide embedder (loaded once per process).

    Returns float32 unit vectors (a numpy array, one row per text).
    """
    # The model stack loads on the first embedding, not when services import.
    from memories.embedders import get_embedder

    texts = list(texts)
    kind = "single" if len(texts) == 1 else "batch"
    started = time.perf_counter()
    vectors = get_embedder().embed(texts)
    EMBEDDER_SECONDS.labels(kind).observe(time.perf_counter() - started)
    EMBEDDER_CALLS.labels(kind).inc()
    EMBEDDER_TEXTS.labels(kind).inc(len(texts))
    return vectors


def embed_chunks(texts: Sequence[str]) -> Iterator[tuple[int, Sequence]]:
    """Yield ``(offset, vectors)`` per ``EMBED_CHUNK`` texts, embedded ahead.

    A worker thread embeds the chunks one after another while the caller
    writes the ones already done: the model (which releases the GIL) and
    PostgreSQL then work on different cores instead of taking turns. One
    chunk is embedded inline, without a thread.
    """
    if len(texts) <= EMBED_CHUNK:
        if texts:
            yield 0, embed_texts(texts)
        return
    offsets = range(0, len(texts), EMBED_CHUNK)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
    try:
        futures = [
            pool.submit(embed_texts, texts[offset : offset + EMBED_CHUNK])
            for offset in offsets
        ]
        for offset, future in zip(offsets, futures, strict=True):
            yield offset, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
