"""Cursor pagination for every list endpoint.

Cursors stay stable while rows are added (no skipped or repeated rows, unlike
page numbers) and cost one indexed range query per page. A view names its
ordering in ``cursor_ordering`` (a unique-enough, immutable field first).
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

MAX_CURSOR_CHARS = 512
CURSOR_MESSAGE = "invalid cursor; use the 'next' or 'previous' link of a response"


class ApiCursorPagination(CursorPagination):
    """``?cursor=`` and ``?limit=`` (1-500, default 50).

    Responses are ``{"next", "previous", "results"}``.
    """

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500
    ordering = "-created_at"

    def get_ordering(self, request, queryset, view):
        """The view's ``cursor_ordering``, else the class default."""
        ordering = getattr(view, "cursor_ordering", None) or self.ordering
        return (ordering,) if isinstance(ordering, str) else tuple(ordering)

    def get_page_size(self, request):
        """Reject a malformed or out-of-range ``limit`` instead of ignoring it."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {"limit": [f"must be an integer from 1 to {self.max_page_size}"]}
            )
        return int(raw)

    def decode_cursor(self, request):
        """Decode ``?cursor=``; a damaged cursor is a 400 that says to restart."""
        encoded = request.query_params.get(self.cursor_query_param)
        message = CURSOR_MESSAGE
        if encoded is not None and (
            len(encoded) > MAX_CURSOR_CHARS or not encoded.isascii()
        ):
            raise ValidationError({"cursor": [message]})
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": [message]}) from None
        position = cursor.position if cursor is not None else None
        if position is not None and ("\x00" in position or len(position) > 100):
            raise ValidationError({"cursor": [message]})
        return cursor

    def paginate_queryset(self, queryset, request, view=None):
        """Paginate; a forged cursor position that fails to parse is a 400."""
        try:
            return super().paginate_queryset(queryset, request, view)
        except (DjangoValidationError, ValueError, TypeError):
            # The position is compared with the ordering field; a forged one of
            # the wrong type fails while the filter is built, before any query.
            raise ValidationError({"cursor": [CURSOR_MESSAGE]}) from None
