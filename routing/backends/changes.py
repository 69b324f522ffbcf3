"""Change feeds: the cursor codec and the overlap window behind ``changes_since``.

A cursor is ``base64url(zlib(json({"k": kind, "v": 1, "s": state})))``:
opaque to callers and checked on the way back in (its kind, its version, a
well-formed state), so a cursor that was truncated, edited or issued by
another kind of backend is an :class:`InvalidCursor` (a ``PermanentError``)
that names the fix: start again without a cursor.

:class:`TimeWindow` pages a feed ordered by (timestamp, key) whose
timestamps are taken before the write commits (``updated_at``, an audit
row's ``at``): a transaction can commit after a later one whose row a page
already reported, so every page re-reads the ``OVERLAP_SECONDS`` before its
watermark and leaves out what it already reported there (short digests of
key and timestamp, kept in the cursor). A write whose transaction commits
more than ``OVERLAP_SECONDS`` after its timestamp can still be missed. When
the digests outgrow ``MAX_SEEN`` the oldest are dropped: that can repeat a
change, never lose one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from routing.backends.base import PermanentError

CURSOR_VERSION = 1
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_CURSOR_CHARS = 4_000_000
MAX_STATE_BYTES = 16_000_000
OVERLAP_SECONDS = 10.0
MAX_SEEN = 5000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


class InvalidCursor(PermanentError):
    """A cursor this backend did not issue (malformed, edited, other kind)."""

    caller_error = True


def page_limit(limit: Any) -> int:
    """``limit`` checked: an integer from 1 to :data:`MAX_LIMIT`."""
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise PermanentError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    if not 1 <= limit <= MAX_LIMIT:
        raise PermanentError(f"limit must be an integer from 1 to {MAX_LIMIT}")
    return limit


def cursor_encode(kind: str, state: dict) -> str:
    """An opaque cursor holding ``state`` for backends of ``kind``."""
    raw = json.dumps(
        {"k": kind, "v": CURSOR_VERSION, "s": state}, separators=(",", ":")
    ).encode()
    return base64.urlsafe_b64encode(zlib.compress(raw, 6)).decode().rstrip("=")


def cursor_error(kind: str) -> InvalidCursor:
    """The error for a cursor a backend of ``kind`` cannot have issued."""
    return InvalidCursor(
        f"not a change cursor of this {kind} backend (malformed, edited or "
        "issued by another backend); pass no cursor to start from the beginning"
    )


def cursor_windows(kind: str, cursor: str | None, *names: str) -> list[TimeWindow]:
    """The :class:`TimeWindow` stored under each of ``names`` in a cursor of ``kind``.

    No cursor gives fresh windows; a malformed one is :func:`cursor_error`.
    """
    state = cursor_decode(kind, cursor) or {}
    try:
        return [TimeWindow.from_state(state.get(name)) for name in names]
    except ValueError:
        raise cursor_error(kind) from None


def cursor_decode(kind: str, cursor: str | None) -> dict | None:
    """The state a cursor of ``kind`` holds (None for no cursor)."""
    if cursor is None:
        return None
    problem = cursor_error(kind)
    if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_CURSOR_CHARS:
        raise problem
    try:
        packed = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        inflater = zlib.decompressobj()
        raw = inflater.decompress(packed, MAX_STATE_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            raise ValueError("truncated or too large")
        data = json.loads(raw)
    except (binascii.Error, zlib.error, ValueError, UnicodeDecodeError):
        raise problem from None
    if (
        not isinstance(data, dict)
        or data.get("k") != kind
        or data.get("v") != CURSOR_VERSION
        or not isinstance(data.get("s"), dict)
    ):
        raise problem
    return data["s"]


def micros(moment: datetime) -> int:
    """``moment`` as integer microseconds since the Unix epoch (exact)."""
    return (moment - _EPOCH) // _MICRO


def from_micros(value: int) -> datetime:
    """The inverse of :func:`micros` (UTC)."""
    return _EPOCH + value * _MICRO


def _digest(key: str, moment: datetime) -> str:
    return hashlib.blake2b(
        f"{key}@{micros(moment)}".encode(), digest_size=8
    ).hexdigest()


@dataclass
class TimeWindow:
    """A (timestamp, key) keyset that re-reads an overlap (see the module doc)."""

    since: datetime | None = None
    seen: dict[str, int] = field(default_factory=dict)  # digest -> micros

    @classmethod
    def from_state(cls, state: Any) -> TimeWindow:
        """The window a cursor's state describes (``ValueError`` if malformed)."""
        if state is None:
            return cls()
        if not isinstance(state, dict) or not isinstance(state.get("s", []), list):
            raise ValueError("malformed window")
        since = state.get("t")
        if since is not None and (
            isinstance(since, bool) or not isinstance(since, int)
        ):
            raise ValueError("malformed window")
        seen = {}
        for entry in state.get("s", []):
            if (
                not isinstance(entry, list)
                or len(entry) != 2
                or not isinstance(entry[0], int)
                or not isinstance(entry[1], str)
            ):
                raise ValueError("malformed window")
            seen[entry[1]] = entry[0]
        return cls(since=None if since is None else from_micros(since), seen=seen)

    def state(self) -> dict:
        """What goes into the cursor."""
        return {
            "t": None if self.since is None else micros(self.since),
            "s": [[at, digest] for digest, at in self.seen.items()],
        }

    def read_from(self) -> datetime | None:
        """Fetch items from this timestamp on (None: from the beginning)."""
        if self.since is None:
            return None
        return self.since - timedelta(seconds=OVERLAP_SECONDS)

    def fetch_size(self, limit: int) -> int:
        """How many items to fetch so that ``limit`` unreported ones are among them."""
        return limit + len(self.seen) + 1

    def take(
        self,
        items: Iterable[tuple[datetime, str, Any]],
        *,
        limit: int,
        exhausted: bool,
    ) -> tuple[list[Any], bool]:
        """The first ``limit`` unreported values, and whether more are waiting.

        ``items`` are (timestamp, key, value) read from :meth:`read_from` on,
        in (timestamp, key) order, at most :meth:`fetch_size` of them;
        ``exhausted`` says the read returned everything there was.
        """
        fresh = sorted(
            (item for item in items if _digest(item[1], item[0]) not in self.seen),
            key=lambda item: (item[0], item[1]),
        )
        taken = fresh[:limit]
        more = len(fresh) > limit or not exhausted
        for moment, key, _ in taken:
            self.seen[_digest(key, moment)] = micros(moment)
            if self.since is None or moment > self.since:
                self.since = moment
        if self.since is not None:
            floor = micros(self.since - timedelta(seconds=OVERLAP_SECONDS))
            kept = sorted(
                ((at, d) for d, at in self.seen.items() if at >= floor), reverse=True
            )[:MAX_SEEN]
            self.seen = {d: at for at, d in kept}
        return [value for _, _, value in taken], more
