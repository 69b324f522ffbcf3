"""The base viewset every API endpoint derives from, knowing no app.

:class:`ApiViewSet` fixes the plumbing: the strict JSON parser with the size
limit, cursor pagination, and typed body and query validation. Who is calling
is the business of :mod:`accounts.api.viewsets`; which space an action works
on, of :mod:`memories.api.viewsets`.
"""

from rest_framework import serializers, viewsets

from memoryhub.api.pagination import ApiCursorPagination
from memoryhub.api.parsers import JSONParser

PAGINATION_PARAMS = ("cursor", "limit")


class ApiViewSet(viewsets.GenericViewSet):
    """Shared plumbing: parser, pagination, body and query validation."""

    parser_classes = [JSONParser]
    pagination_class = ApiCursorPagination
    # Query parameters every action of the viewset accepts besides its own.
    common_query_params: tuple[str, ...] = ()

    def body(self, serializer_class, *, data=None) -> dict:
        """The request body validated by ``serializer_class`` (400 otherwise)."""
        serializer = serializer_class(
            data=self.request.data if data is None else data,
            context=self.get_serializer_context(),
        )
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def query(self, serializer_class=None, *, paginated: bool = False) -> dict:
        """Validated query parameters; unknown ones are a 400 naming them."""
        allowed = set(self.common_query_params)
        if paginated:
            allowed |= set(PAGINATION_PARAMS)
        fields = serializer_class().fields if serializer_class else {}
        unknown = sorted(
            k for k in self.request.query_params if k not in allowed | set(fields)
        )
        if unknown:
            raise serializers.ValidationError(
                {
                    unknown[0]: [
                        f"unknown query parameter(s) {', '.join(unknown)}; allowed: "
                        f"{', '.join(sorted(allowed | set(fields))) or 'none'}"
                    ]
                },
                code="unknown_field",
            )
        if serializer_class is None:
            return {}
        params = {k: self.request.query_params.get(k) for k in fields}
        params = {k: v for k, v in params.items() if v is not None}
        return self.body(serializer_class, data=params)

    def paginated(self, queryset, render):
        """One page of ``queryset`` as ``{next, previous, results}``.

        ``render`` turns the page's rows into the response items (decrypting
        and auditing them when they are memories).
        """
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(render(page))
