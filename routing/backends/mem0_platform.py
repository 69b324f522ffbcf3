"""``mem0_platform``: a server speaking mem0's platform API, via ``MemoryClient``.

The hosted mem0 platform, or another MemoryHub (its mem0-compatible API):
config ``host`` (base URL) and optionally ``space`` (sent as the
``X-MemoryHub-Space`` header, which a MemoryHub peer uses to pick the key's
space); secret ``api_key``. One client per process per backend, with the
backend's timeout on its HTTP client (the SDK's default is 300 s).

Like the ``mem0`` kind, a memory without user/agent/run id is stored under
``user_id = "space:<space uuid>"``; each copy carries ``memoryhub_id`` in its
metadata, which ``add`` looks up first so a redelivery never duplicates.

``changes_since`` lists memories by ``updated_at`` through ``get_all`` with
an ``updated_at`` filter (``gte``/``lte``, which both the platform and a
MemoryHub peer accept) in a :class:`~routing.backends.changes.TimeWindow`.
The API pages by offset in its own order, not by ``updated_at``, so a page
scans every memory changed in a time range and sorts them: when more than
``SCAN_LIMIT`` changed since the cursor, the range is first narrowed by
bisection on the list's ``count``. Deletions are not reported: the API
lists live memories only (a consumer notices them through ``get``).
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import httpx

from routing.backends.base import (
    MEMORY_ID_KEY,
    BackendAdapter,
    Change,
    ChangePage,
    Hit,
    ItemPage,
    Lazy,
    PermanentError,
    Record,
    SearchScope,
    TransientError,
)
from routing.backends.changes import (
    DEFAULT_LIMIT,
    cursor_encode,
    cursor_windows,
    page_limit,
)
from routing.backends.mem0_oss import (
    _copy_id,
    _item_hit,
    _mem0_env,
    _subject,
    mem0_item,
)

SPACE_HEADER = "X-MemoryHub-Space"
PAGE_SIZE = 200  # memories per get_all request while scanning
SCAN_LIMIT = 2000  # memories one changes page may scan (more: narrow first)
MAX_RESCANS = 3
_MICRO = timedelta(microseconds=1)


def _items(found) -> list[dict]:
    """The items of a response (a list, or ``{"results": [...]}``)."""
    return found.get("results", []) if isinstance(found, dict) else found


class Adapter(BackendAdapter):
    """A mem0 platform API server (hosted mem0 or a MemoryHub peer)."""

    kind = "mem0_platform"
    config_keys = frozenset({"host", "space"})
    secret_keys = frozenset({"api_key"})
    required_config = frozenset({"host"})

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._client = Lazy(self._build)

    @property
    def client(self):
        """The ``MemoryClient`` (it pings the server when built)."""
        return self._client.get()

    def _build(self):
        _mem0_env()
        # mem0 reads MEM0_TELEMETRY and MEM0_DIR at import: after _mem0_env().
        from mem0 import MemoryClient

        api_key = self.secrets.get("api_key")
        if not api_key:
            raise PermanentError(f"backend {self.name!r} needs the secret api_key")
        headers = {}
        if self.config.get("space"):
            headers[SPACE_HEADER] = self.config["space"]
        http = httpx.Client(timeout=self.timeout, headers=headers)
        try:
            return MemoryClient(api_key=api_key, host=self.config["host"], client=http)
        except ValueError as exc:  # the ping answered with an error status
            raise TransientError(f"ping failed: {str(exc)[:200]}") from exc

    def _do(self, fn, *args, **kwargs):
        # mem0 is imported only after _mem0_env() (see _client).
        from mem0.exceptions import (
            AuthenticationError,
            MemoryError,
            MemoryNotFoundError,
            MemoryQuotaExceededError,
            ValidationError,
        )

        try:
            return fn(*args, **kwargs)
        except MemoryNotFoundError:
            raise
        except (AuthenticationError, ValidationError, MemoryQuotaExceededError) as exc:
            raise PermanentError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc
        except (MemoryError, httpx.HTTPError) as exc:
            if isinstance(exc, httpx.TransportError):
                self._client.reset()  # reconnect on the next call
            raise TransientError(f"{type(exc).__name__}: {str(exc)[:200]}") from exc

    def _find(self, record: Record) -> str | None:
        found = self._do(
            self.client.get_all,
            filters={**_subject(record), MEMORY_ID_KEY: record.memory_id},
        )
        return _copy_id(_items(found), record.memory_id)

    def add(self, record: Record) -> str:
        """Add raw text (``infer=False``) unless this memory is already there."""
        existing = self._find(record)
        if existing:
            return existing
        kwargs = {**_subject(record), "metadata": record.tagged_metadata()}
        if record.app_id:
            kwargs["app_id"] = record.app_id
        if record.categories:
            kwargs["categories"] = list(record.categories)
        result = self._do(self.client.add, record.content, infer=False, **kwargs)
        items = _items(result)
        if not items:
            raise PermanentError("the server stored nothing for the memory")
        return str(items[0]["id"])

    def get(self, external_id: str) -> Hit | None:
        """One memory by id (None when the server has none)."""
        # mem0 is imported only after _mem0_env() (see _client).
        from mem0.exceptions import MemoryNotFoundError

        try:
            return _item_hit(self._do(self.client.get, external_id))
        except MemoryNotFoundError:
            return None

    def update(self, external_id: str, record: Record) -> None:
        """Replace text and metadata."""
        self._do(
            self.client.update,
            external_id,
            text=record.content,
            metadata=record.tagged_metadata(),
        )

    def delete(self, external_id: str) -> None:
        """Delete; an unknown id is already deleted."""
        # mem0 is imported only after _mem0_env() (see _client).
        from mem0.exceptions import MemoryNotFoundError

        with contextlib.suppress(MemoryNotFoundError):
            self._do(self.client.delete, external_id)

    def search(self, query: str, *, scope: SearchScope, top_k: int) -> list[Hit]:
        """The server's search within the scope's subject."""
        found = self._do(
            self.client.search, query, filters=_subject(scope), top_k=top_k
        )
        return [_item_hit(item) for item in _items(found)]

    def changes_since(
        self, cursor: str | None, *, limit: int = DEFAULT_LIMIT
    ) -> ChangePage:
        """Memories updated after ``cursor`` (upserts; see the module doc)."""
        found, cursor, more = self._window_page(cursor, limit)
        return ChangePage(changes=[_change(i) for i in found], cursor=cursor, more=more)

    def pull_since(self, cursor: str | None, *, limit: int = DEFAULT_LIMIT) -> ItemPage:
        """Memories updated after ``cursor``, with what they hold (the listing
        carries it: no extra request); the same cursor as ``changes_since``."""
        found, cursor, more = self._window_page(cursor, limit)
        return ItemPage(items=[mem0_item(i) for i in found], cursor=cursor, more=more)

    def _window_page(self, cursor: str | None, limit: int) -> tuple[list, str, bool]:
        """The listed memories of one page after ``cursor``, the next cursor,
        and whether more are waiting."""
        limit = page_limit(limit)
        (window,) = cursor_windows(self.kind, cursor, "w")
        items, exhausted = self._changed(window.read_from(), window.fetch_size(limit))
        found, more = window.take(items, limit=limit, exhausted=exhausted)
        return found, cursor_encode(self.kind, {"w": window.state()}), more

    def _changed(self, start: datetime | None, size: int) -> tuple[list, bool]:
        """The first ``size`` memories updated from ``start`` on, in time order,
        as (updated_at, id, listed item), and whether that was all of them."""
        cap = max(SCAN_LIMIT, size)
        end = None
        if self._count(start, None) > cap:
            end = self._narrow(start, low=size, high=cap)
        found = sorted(self._scan(start, end), key=lambda item: (item[0], item[1]))
        return found[:size], end is None and len(found) <= size

    def _list(self, start, end, *, page: int, page_size: int) -> dict:
        """One page of ``get_all`` over the time range (``count`` required)."""
        bounds = {}
        if start is not None:
            bounds["gte"] = start.isoformat()
        if end is not None:
            bounds["lte"] = end.isoformat()
        found = self._do(
            self.client.get_all,
            filters={"updated_at": bounds} if bounds else {},
            page=page,
            page_size=page_size,
        )
        if not isinstance(found, dict) or not isinstance(found.get("count"), int):
            raise PermanentError(
                "the server's memory list has no count; changes need a "
                "paginated get_all (mem0 platform v3 or a MemoryHub peer)"
            )
        return found

    def _count(self, start, end) -> int:
        return self._list(start, end, page=1, page_size=1)["count"]

    def _narrow(self, start, *, low: int, high: int) -> datetime:
        """An end with ``low``..``high`` memories updated in [start, end], by
        bisection (or the narrowest end found, if one microsecond holds more)."""
        if start is None:  # the oldest memory was created before any update
            count = self._count(None, None)
            oldest = _items(self._list(None, None, page=count, page_size=1))
            start = _updated_at(oldest[0]) if oldest else datetime.now(UTC)
        before, after = start - _MICRO, datetime.now(UTC) + timedelta(days=1)
        while after - before > _MICRO:
            middle = before + (after - before) / 2
            count = self._count(start, middle)
            if count > high:
                after = middle
            elif count < low:
                before = middle
            else:
                return middle
        return after

    def _scan(self, start, end) -> list[tuple[datetime, str, dict]]:
        """Every memory updated in [start, end], consistent across its pages."""
        for _ in range(MAX_RESCANS):
            first = self._list(start, end, page=1, page_size=PAGE_SIZE)
            items, pages, steady = _items(first), -(-first["count"] // PAGE_SIZE), True
            for page in range(2, pages + 1):
                found = self._list(start, end, page=page, page_size=PAGE_SIZE)
                steady = steady and found["count"] == first["count"]
                items += _items(found)
            if steady:
                latest = {}
                for item in items:  # an item updated mid-scan may show twice
                    key = str(item["id"])
                    if key not in latest or _updated_at(item) > latest[key][0]:
                        latest[key] = (_updated_at(item), key, item)
                return list(latest.values())
        raise TransientError("the server's memories kept changing during the scan")

    def health_check(self) -> None:
        """``GET /v1/ping/`` answers."""
        response = self._do(self.client.client.get, "/v1/ping/")
        if response.status_code >= 500:
            raise TransientError(f"ping answered {response.status_code}")
        if response.status_code >= 400:
            raise PermanentError(f"ping answered {response.status_code}")

    def close(self) -> None:
        """Close the HTTP client."""
        client = self._client.reset()
        if client is not None:
            client.client.close()


def _updated_at(item: dict) -> datetime:
    """When a listed memory last changed (``created_at`` if never updated)."""
    raw = item.get("updated_at") or item.get("created_at")
    try:
        moment = datetime.fromisoformat(str(raw))
    except ValueError:
        raise PermanentError(
            "the server listed a memory without a valid updated_at"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _change(item: dict) -> Change:
    return Change(
        external_id=str(item["id"]),
        op="upsert",
        memory_id=(item.get("metadata") or {}).get(MEMORY_ID_KEY),
    )
