"""Embedding texts with the process-wide embedder, for writes and searches.

The embedder stack (numpy, tokenizers, maybe torch) is imported on first use,
not when services or selectors are imported.
"""

import contextvars
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings

from memoryhub.metrics import EMBEDDER_CALLS, EMBEDDER_SECONDS, EMBEDDER_TEXTS
from memoryhub.threads import ProcessPool

EMBED_CHUNK = 32  # texts per embedding call when embedding overlaps inserts
# Threads per process for queries embedded ahead (embed_soon): at least one
# per request thread of a web or MCP process (gunicorn's 4, MCP's 8 by
# default), so a remote embedder is called as concurrently as before; a
# local model serializes its calls anyway. Threads start only when needed.
QUERY_THREADS = 16


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


def embed_soon(text: str) -> Future:
    """Start embedding one query text; the future's ``result()`` is what
    ``embed_texts([text])`` returns (or raises).

    A search request knows its query before its space: the space lookup (a
    database round trip) and the body's validation come first. Started
    then, the embedding — native code that releases the GIL — runs on the
    other core meanwhile instead of after them. The thread runs in the
    request's context (its request id in log lines). Callers start it only
    for an authenticated request; one whose result goes unused (the space
    turned out invisible, the search was routed elsewhere) is cancelled if
    it has not started and otherwise finishes unseen.
    """
    return _query_pool.submit(contextvars.copy_context().run, embed_texts, [text])


def embed_search_query_soon(query, mode) -> Future | None:
    """:func:`embed_soon` for a search body's ``query`` and ``mode`` that
    will get as far as embedding it (a non-empty string within the content
    limit, a mode that embeds); None for anything else, which the search's
    own validation then refuses or handles without an embedding."""
    if (
        isinstance(query, str)
        and query.strip()
        and len(query) <= settings.MEMORY_MAX_CONTENT_CHARS
        and mode in ("hybrid", "vector")
    ):
        return embed_soon(query)
    return None


# Started only when needed, per process (memoryhub.threads).
_query_pool = ProcessPool(QUERY_THREADS, "query-embed")
