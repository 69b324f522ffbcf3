"""Synthetic memory corpus for the load benchmarks, with cached embeddings.

``item(i)`` is a deterministic function of ``i``: a short agent-style memory
built from one of a few dozen sentence shapes and shared vocabularies (over a
hundred million distinct sentences), scoped to ``user-(i % users)``. Queries
are questions over the same vocabulary, so they land near real memories.

Embeddings are computed once, in chunks of 50,000, and cached as ``.npy`` under
``var/bench-cache/`` (1,000,000 x 384 float32 is 1.5 GB), so a 1M run embeds
once and later runs only load. ``copy_load`` is the fast path that writes
precomputed rows through the memory service without HTTP.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

CORPUS_VERSION = 1  # bump when item() changes: it names the cache files
CHUNK = 50_000
# Loads of this many rows or more drop the HNSW index and rebuild it after:
# building from the rows is faster than maintaining the graph row by row.
REBUILD_AT = 50_000

NAMES = (
    "Maya Leo Ines Tobias Ravi Anouk Kofi Freya Mateo Yuki Oskar Elodie Cormac "
    "Zara Ingrid Tariq Niamh Soren Amara Lucian Dmitri Esme Hugo Wren Idris Felix"
).split()
PLACES = (
    "Lisbon Hokkaido Patagonia Zermatt Oaxaca Tbilisi Queenstown Dubrovnik Kerala "
    "Porto Montreal Bergen Galway Leipzig Kyoto Marrakesh Tallinn Seville Hanoi"
).split()
FOODS = (
    "shellfish", "peanuts", "sesame", "gluten", "dairy", "mushrooms", "cilantro",
    "spicy food", "oat milk lattes", "dark chocolate", "sourdough", "ramen",
    "tacos al pastor", "green curry", "halloumi", "kimchi", "pistachios",
)  # fmt: skip
THINGS = (
    "the quarterly report", "a new laptop", "the kitchen renovation",
    "the tax return", "a vegetable garden", "the marathon training plan",
    "a trip budget", "the school fundraiser", "a photography course",
    "the database migration", "a birthday present", "the car insurance",
    "a standing desk", "the team offsite", "a piano recital", "the wedding speech",
    "a mortgage application", "the dog's vet bills", "a reading list",
    "the conference talk", "a climbing trip", "the garden shed", "a job interview",
)  # fmt: skip
TOOLS = (
    "Notion", "Obsidian", "Slack", "Figma", "VS Code", "Neovim", "Excel",
    "Google Sheets", "Trello", "Jira", "Linear", "Home Assistant", "Strava",
    "Duolingo", "Spotify", "1Password", "Bitwarden", "Kindle", "Peloton",
)  # fmt: skip
DAYS = (
    "on Mondays", "on Tuesday evenings", "every Wednesday", "on Thursdays",
    "on Friday afternoons", "at weekends", "every morning", "after work",
    "before 9am", "once a month", "every other week", "during lunch",
)  # fmt: skip
FEELINGS = (
    "loves", "dislikes", "is curious about", "is stressed about", "is excited about",
    "keeps forgetting", "wants help with", "is saving up for", "is researching",
    "is tired of", "recommends", "asked about",
)  # fmt: skip
RELATIONS = (
    "sister", "brother", "manager", "neighbour", "daughter", "son", "partner",
    "best friend", "colleague", "landlord", "dentist", "personal trainer",
)  # fmt: skip
HOBBIES = (
    "bouldering", "sourdough baking", "film photography", "trail running",
    "woodworking", "birdwatching", "salsa dancing", "chess", "pottery",
    "open-water swimming", "board games", "knitting", "cycling", "gardening",
)  # fmt: skip
MONTHS = (
    "January February March April May June July August September October "
    "November December"
).split()

SHAPES = (
    "{name} {feeling} {thing}",
    "Allergic to {food}; {relation} {name} reminded {them} again",
    "Prefers {tool} over {tool2} for {thing}",
    "Goes {hobby} {day} with {relation} {name}",
    "Planning a trip to {place} in {month} with {relation} {name}",
    "{relation_cap} {name} {feeling} {hobby}",
    "Wants to finish {thing} before {month}",
    "Uses {tool} {day} to keep track of {thing}",
    "Can't stand {food} but {feeling} {food2}",
    "Booked a table for {food2} in {place} on {day_short}",
    "Said {relation} {name} moved to {place} last {month}",
    "Started {hobby} in {month} and {feeling} it",
    "Needs a reminder about {thing} {day}",
    "Asked for tips on {hobby} near {place}",
    "Cooks {food} for {relation} {name} {day}",
    "Has a call about {thing} with {name} {day}",
    "Switched from {tool2} to {tool} for {thing}",
    "Thinks {place} is the best place for {hobby}",
    "{name} recommended {tool} for {thing}",
    "Keeps {food} at the office for {relation} {name}",
)  # fmt: skip
TAILS = (
    "",
    " (mentioned on {date})",
    "; follow up {day}",
    ", and {relation} {name} agrees",
    " since {month}",
    "; budget about {amount}",
    ", said on {date}",
    " after talking to {name}",
    "; wants a reminder on {date}",
    " while in {place2}",
)  # fmt: skip
QUESTIONS = (
    "What does {name} think about {thing}?",
    "Which app is used for {thing}?",
    "Who goes {hobby} with the user?",
    "When is the trip to {place}?",
    "What food should be avoided, like {food}?",
    "What is planned for {month}?",
    "Who moved to {place}?",
    "What hobby involves {hobby}?",
    "Any reminders about {thing}?",
    "What does the user think of {tool}?",
)  # fmt: skip


def _fill(rng: random.Random, shape: str) -> str:
    relation = rng.choice(RELATIONS)
    slots = {
        "name": rng.choice(NAMES),
        "feeling": rng.choice(FEELINGS),
        "thing": rng.choice(THINGS),
        "food": rng.choice(FOODS),
        "food2": rng.choice(FOODS),
        "relation": relation,
        "relation_cap": relation.capitalize(),
        "them": rng.choice(("them", "her", "him")),
        "tool": rng.choice(TOOLS),
        "tool2": rng.choice(TOOLS),
        "hobby": rng.choice(HOBBIES),
        "day": rng.choice(DAYS),
        "day_short": rng.choice(("Friday", "Saturday", "Sunday", "Tuesday")),
        "place": rng.choice(PLACES),
        "month": rng.choice(MONTHS),
        "place2": rng.choice(PLACES),
        "date": f"{rng.randint(1, 28)} {rng.choice(MONTHS)}",
        "amount": f"${rng.randrange(20, 5000, 10)}",
    }
    return shape.format_map(slots)


def text(i: int) -> str:
    """The content of corpus item ``i`` (deterministic)."""
    rng = random.Random(i * 7919 + CORPUS_VERSION)
    return _fill(rng, rng.choice(SHAPES) + rng.choice(TAILS))


def item(i: int, users: int) -> dict:
    """Corpus item ``i`` as a POST body for the memories API."""
    rng = random.Random(i * 104729 + CORPUS_VERSION)
    return {
        "content": text(i),
        "user_id": f"user-{i % users}",
        "agent_id": f"agent-{rng.randrange(8)}",
        "metadata": {"n": i, "source": "bench", "priority": rng.randrange(5)},
        "categories": [rng.choice(("personal", "work", "health", "travel", "food"))],
    }


def query(j: int) -> str:
    """Search query ``j``: a question over the corpus vocabulary."""
    rng = random.Random(10_000_019 + j * 31 + CORPUS_VERSION)
    return _fill(rng, rng.choice(QUESTIONS))


# --- embeddings -------------------------------------------------------------------


def local_embedder(threads: int = 1):
    """The MemoryHub local embedder (same model and backend as the web workers)."""
    from memories.embedders import MODEL_NAME, LocalEmbedder, model_root

    backend = os.environ.get("MEMORYHUB_EMBEDDER_BACKEND", "auto")
    return LocalEmbedder(
        export_dir=model_root() / MODEL_NAME, backend=backend, threads=threads
    )


def _cached(cache_dir: Path, start: int, count: int) -> Path | None:
    """A cache file for items from ``start`` holding at least ``count`` rows."""
    for path in sorted(cache_dir.glob(f"corpus-v{CORPUS_VERSION}-{start:08d}-*.npy")):
        if int(path.stem.rsplit("-", 1)[1]) >= count:
            return path
    return None


def embeddings(n: int, cache_dir: Path, *, threads: int | None = None) -> np.ndarray:
    """Unit vectors for items ``0..n-1``, computed once per chunk and cached."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    threads = threads or os.cpu_count() or 1
    embedder = None
    parts = []
    for start in range(0, n, CHUNK):
        count = min(CHUNK, n - start)
        path = _cached(cache_dir, start, count)
        if path is None:
            if embedder is None:
                embedder = local_embedder(threads)
                print(
                    f"embedding with {embedder.name}, {threads} thread(s)",
                    file=sys.stderr,
                )
            began = time.perf_counter()
            vectors = embedder.embed([text(i) for i in range(start, start + count)])
            path = cache_dir / f"corpus-v{CORPUS_VERSION}-{start:08d}-{count}.npy"
            tmp = path.with_name(path.stem + ".partial.npy")
            np.save(tmp, vectors.astype(np.float32))
            tmp.rename(path)
            rate = count / (time.perf_counter() - began)
            print(
                f"  embedded items {start}-{start + count - 1} ({rate:.0f}/s)",
                file=sys.stderr,
            )
        parts.append(np.load(path, mmap_mode="r")[:count])
    return np.concatenate(parts) if parts else np.zeros((0, 384), np.float32)


# --- the fast path -------------------------------------------------------------------


def copy_load(space, items: Sequence[dict], embeddings: Sequence) -> int:
    """Write items with precomputed embeddings into ``space`` with ``COPY``.

    The rows are built by the memory service's own pieces — input validation
    (``clean_memory_input``), sealing, MAC and blind index (``memory_build``)
    and the encrypted ADD history event (``event_build``) — so they are exactly
    what the API writes, and one audit row records the load. What it skips is the
    per-row ``INSERT``: ``COPY`` moves them in one stream. Items whose content
    and scope repeat an active memory of the space are skipped, as the API's
    dedupe would. Returns how many rows were written.
    """
    from django.db import transaction

    from accounts.actors import SYSTEM
    from audit.services import access_record
    from memories.encryption import keyring
    from memories.encryption.sealing import event_build, memory_build
    from memories.models import MemoryEvent
    from memories.services import dedupe_key
    from memories.validation import clean_memory_input
    from memoryhub.crypto import content_mac
    from memoryhub.db import copy_insert

    index_key = keyring.index_key(space)
    seen = _live_keys(space)
    memories, events = [], []
    with transaction.atomic():
        version = keyring.active_version(space)
        for raw, vector in zip(items, embeddings, strict=True):
            item = clean_memory_input(raw, retention_days=space.retention_days)
            mac = content_mac(index_key, item.content)
            key = dedupe_key(mac, item)
            if key in seen:
                continue
            seen.add(key)
            memory = memory_build(
                space=space,
                item=item,
                mac=mac,
                embedding=np.asarray(vector, dtype=np.float32),
                version=version,
                index_key=index_key,
            )
            memories.append(memory)
            events.append(
                event_build(
                    memory=memory,
                    space=space,
                    kind=MemoryEvent.Kind.ADD,
                    old=None,
                    new=item.content,
                    actor=SYSTEM,
                    surface="cli",
                    version=version,
                )
            )
        copy_insert(memories)
        copy_insert(events)
        access_record(
            actor=SYSTEM,
            action="memory.add",
            surface="cli",
            space=space,
            memory_ids=[m.pk for m in memories],
            detail={"created": len(memories), "loader": "copy"},
        )
    return len(memories)


_live_cache: dict = {}


def _live_keys(space) -> set:
    """Dedupe keys of the space's active memories (read once per process)."""
    from memories.models import Memory
    from memories.services import dedupe_key

    if space.pk not in _live_cache:
        rows = Memory.objects.filter(space=space, state="active").only(
            "content_mac", "user_id", "agent_id", "app_id", "run_id"
        )
        _live_cache[space.pk] = {
            dedupe_key(row.content_mac, row) for row in rows.iterator()
        }
    return _live_cache[space.pk]


def loaded_count(space) -> int:
    """How many corpus items (by ``metadata.n``) the space already holds."""
    from django.db.models import IntegerField, Max
    from django.db.models.fields.json import KeyTextTransform
    from django.db.models.functions import Cast

    from memories.models import Memory

    top = (
        Memory.objects.filter(space=space, metadata__source="bench")
        .annotate(n=Cast(KeyTextTransform("n", "metadata"), IntegerField()))
        .aggregate(top=Max("n"))["top"]
    )
    return 0 if top is None else top + 1


def _hnsw_index() -> tuple[str, str]:
    """(table, index name) of the memory embedding HNSW index, from the model."""
    from memories.models import Memory
    from memories.search_index import model_index

    return Memory._meta.db_table, model_index().name


def _build(cursor, indexdef: str) -> None:
    """Build the HNSW index with the graph in memory (1M x 384 needs ~2.5 GB).

    One parallel worker beside the leader on a 2-core machine: more would
    only take turns on the same cores.
    """
    workers = max(1, (os.cpu_count() or 2) - 1)
    cursor.execute("SET maintenance_work_mem = '6GB'")
    cursor.execute(f"SET max_parallel_maintenance_workers = {workers}")
    cursor.execute(indexdef)


def restore_hnsw(cache_dir: Path) -> None:
    """Recreate the HNSW index if an interrupted fast load left it dropped."""
    from django.db import connection

    saved = cache_dir / "hnsw-indexdef.sql"
    if not saved.exists():
        return
    _, name = _hnsw_index()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = %s", [name])
        if cursor.fetchone() is None:
            print(f"  rebuilding HNSW index {name}, left dropped", file=sys.stderr)
            _build(cursor, saved.read_text())
    saved.unlink()


@contextmanager
def hnsw_dropped(cache_dir: Path | None) -> Iterator[None]:
    """Drop the HNSW index for a bulk load and rebuild it after (if ``cache_dir``).

    PostgreSQL builds an HNSW index from existing rows much faster than it
    maintains it row by row. The definition is read from the catalog (so it
    matches the migration) and saved to ``cache_dir``, so an interrupted run
    is repaired by ``restore_hnsw`` at the next start.
    """
    if cache_dir is None:
        yield
        return
    from django.db import connection

    table, name = _hnsw_index()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname = %s",
            [table, name],
        )
        indexdef = cursor.fetchone()[0]
        (cache_dir / "hnsw-indexdef.sql").write_text(indexdef)
        cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
    try:
        yield
    finally:
        began = time.perf_counter()
        print(f"  rebuilding HNSW index {name}", file=sys.stderr)
        with connection.cursor() as cursor:
            _build(cursor, indexdef)
        (cache_dir / "hnsw-indexdef.sql").unlink()
        print(f"  index built in {time.perf_counter() - began:.0f} s", file=sys.stderr)


def load(
    space,
    n: int,
    users: int,
    vectors: np.ndarray,
    *,
    batch: int = 1000,
    cache_dir: Path | None = None,
) -> float:
    """Load items ``loaded_count..n-1`` into ``space``; returns items/s (0 if none).

    With ``cache_dir`` the HNSW index is dropped during the load and rebuilt
    after (see ``hnsw_dropped``); the rate then includes the rebuild.
    """
    start = loaded_count(space)
    if start >= n:
        return 0.0
    began = time.perf_counter()
    with hnsw_dropped(cache_dir):
        last = began
        for low in range(start, n, batch):
            high = min(n, low + batch)
            items = [item(i, users) for i in range(low, high)]
            copy_load(space, items, vectors[low:high])
            if time.perf_counter() - last > 15 or high == n:
                last = time.perf_counter()
                rate = (high - start) / (last - began)
                print(f"  loaded {high}/{n} ({rate:.0f}/s)", file=sys.stderr)
    rate = (n - start) / (time.perf_counter() - began)
    analyze()
    return rate


def analyze() -> None:
    """VACUUM ANALYZE the memories, as autovacuum would soon after a bulk
    load: fresh statistics for the planner and the hybrid search's common
    words, and a visibility map for index-only scans."""
    from django.db import connection

    from memories.models import Memory

    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {Memory._meta.db_table}")
    print(f"  VACUUM ANALYZE in {time.perf_counter() - began:.0f} s", file=sys.stderr)
