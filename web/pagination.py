"""Cursor pagination of memory lists for the team app's pages.

A keyset cursor on ``(created_at, id)``, newest first, as the REST API pages
(``memoryhub.api.pagination``): stable while agents add memories, and one
indexed range query per page with no ``COUNT`` over a large space.
"""

import base64
import uuid
from datetime import datetime

from django.db.models import Q, QuerySet

from memoryhub.errors import InvalidInput

PAGE_SIZE = 25
MAX_CURSOR_CHARS = 200


def _encode(created_at: datetime, pk) -> str:
    raw = f"{created_at.isoformat()}|{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, pk_type=uuid.UUID) -> tuple[datetime, object]:
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError(cursor)
        padded = cursor + "=" * (-len(cursor) % 4)
        created, _, pk = base64.urlsafe_b64decode(padded).decode().partition("|")
        value = datetime.fromisoformat(created)
        if value.tzinfo is None:
            raise ValueError(created)
        return value, pk_type(pk)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(
            "this page link is damaged; start again from the first page",
            field="cursor",
        ) from None


def cursor_page(
    queryset: QuerySet,
    cursor: str | None,
    size: int = PAGE_SIZE,
    *,
    field: str = "created_at",
    pk_type=uuid.UUID,
    descending: bool = True,
) -> tuple[list, str | None]:
    """One page of ``queryset`` after ``cursor``, and the next page's cursor;
    ordered by ``field`` then id, newest first unless not ``descending``
    (``pk_type``: the id's type)."""
    sign, after = ("-", "lt") if descending else ("", "gt")
    queryset = queryset.order_by(f"{sign}{field}", f"{sign}id")
    if cursor:
        at, pk = _decode(cursor, pk_type)
        queryset = queryset.filter(
            Q(**{f"{field}__{after}": at}) | Q(**{field: at, f"id__{after}": pk})
        )
    rows = list(queryset[: size + 1])
    if len(rows) <= size:
        return rows, None
    last = rows[size - 1]
    return rows[:size], _encode(getattr(last, field), last.pk)


def query_with_cursor(params, cursor: str | None, *, keep: bool = True) -> str | None:
    """The query string of another page: the same filters, ``cursor`` (the
    first page: ``keep=False``)."""
    if cursor is None and keep:
        return None
    query = params.copy()
    query.pop("cursor", None)
    if cursor is not None:
        query["cursor"] = cursor
    return query.urlencode()
