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
ORDERING = ("-created_at", "-id")
MAX_CURSOR_CHARS = 200


def _encode(created_at: datetime, pk: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError(cursor)
        padded = cursor + "=" * (-len(cursor) % 4)
        created, _, pk = base64.urlsafe_b64decode(padded).decode().partition("|")
        value = datetime.fromisoformat(created)
        if value.tzinfo is None:
            raise ValueError(created)
        return value, uuid.UUID(pk)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(
            "this page link is damaged; start again from the first page",
            field="cursor",
        ) from None


def cursor_page(
    queryset: QuerySet, cursor: str | None, size: int = PAGE_SIZE
) -> tuple[list, str | None]:
    """One page of ``queryset`` after ``cursor``, and the next page's cursor."""
    queryset = queryset.order_by(*ORDERING)
    if cursor:
        created_at, pk = _decode(cursor)
        queryset = queryset.filter(
            Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=pk)
        )
    rows = list(queryset[: size + 1])
    if len(rows) <= size:
        return rows, None
    last = rows[size - 1]
    return rows[:size], _encode(last.created_at, last.pk)
