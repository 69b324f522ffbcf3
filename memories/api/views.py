"""Memory endpoints under ``/api/v1/spaces/<slug>/``: CRUD, batch, query,
bulk delete, history and search (a route of the space, served by
:class:`memories.api.spaces.SpacesViewSet`).

Views are thin: they validate the body, call one service or selector, and
serialize. Permissions are checked twice — by :class:`SpaceViewSet` before
the action (``action_perms``) and by the service itself.
"""

from concurrent.futures import Future

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from memories import permissions, selectors, services
from memories.api.extraction import ExtractAction
from memories.api.serializers import (
    BatchCreateSerializer,
    BatchResultSerializer,
    BulkDeleteSerializer,
    DeletedCountSerializer,
    DeleteQuerySerializer,
    HistorySerializer,
    MemoryCreateSerializer,
    MemoryListQuerySerializer,
    MemoryQuerySerializer,
    MemoryReplaceSerializer,
    MemorySerializer,
    MemoryUpdateSerializer,
    ScoredMemorySerializer,
    SearchResultSerializer,
    SearchSerializer,
)
from memories.api.viewsets import TEAM_PARAMETER, SpaceViewSet
from memories.embedding import embed_search_query_soon
from memories.encryption import sealing
from memories.filters import STATES
from memories.services import AddResult
from memories.validation import SCOPE_FIELDS
from memoryhub.api.exceptions import first_error
from memoryhub.api.schema import error_responses
from memoryhub.errors import InvalidInput

TAG = "memories"


def _states(state: str) -> tuple[str, ...]:
    return tuple(STATES) if state == "all" else (state,)


def _list_filters(params: dict) -> dict:
    """The filter object equivalent to the list endpoint's query parameters."""
    filters = {name: params[name] for name in SCOPE_FIELDS if name in params}
    if "category" in params:
        filters["categories"] = {"contains": params["category"]}
    created = {}
    if "created_after" in params:
        created["gt"] = params["created_after"].isoformat()
    if "created_before" in params:
        created["lt"] = params["created_before"].isoformat()
    if created:
        filters["created_at"] = created
    return filters


def _item_error(errors) -> InvalidInput:
    """A batch item's error (naming its ``field``) from its serializer errors."""
    message, field, _ = first_error(errors)
    return InvalidInput(f"{field}: {message}" if field else message, field=field)


class MemoryViewSet(ExtractAction, SpaceViewSet):
    """Memories of one space."""

    serializer_class = MemorySerializer
    cursor_ordering = ("-created_at", "-id")
    lookup_url_kwarg = "memory_id"
    lookup_value_converter = "uuid"
    action_perms = {
        "create": permissions.ADD,
        "batch": permissions.ADD,
        "extract": permissions.ADD,
        "update": permissions.CHANGE,
        "partial_update": permissions.CHANGE,
        "destroy": permissions.DELETE,
        "bulk_delete": permissions.DELETE,
    }

    def get_serializer_context(self):
        """Memories render their space's slug from here (no query per row)."""
        return {**super().get_serializer_context(), "space": self.space}

    def _render(self, memories, many=False):
        return MemorySerializer(
            memories, many=many, context=self.get_serializer_context()
        ).data

    def _render_page(self, page):
        memories = selectors.memory_page_decrypt(
            actor=self.actor, space=self.space, memories=page
        )
        return self._render(memories, many=True)

    @extend_schema(
        tags=[TAG],
        summary="List memories",
        description="Active, unexpired memories by default, newest first; "
        "narrow with the query parameters. Cursor-paginated.",
        parameters=[TEAM_PARAMETER, MemoryListQuerySerializer],
        responses={200: MemorySerializer(many=True)},
    )
    def list(self, request, slug):
        """``GET .../memories/``."""
        params = self.query(MemoryListQuerySerializer, paginated=True)
        queryset = selectors.memories_list(
            actor=self.actor,
            space=self.space,
            filters=_list_filters(params),
            states=_states(params["state"]),
        )
        return self.paginated(queryset, self._render_page)

    @extend_schema(
        tags=[TAG],
        summary="Query memories with a filter object",
        description="Like the list, with the full filter language in the body. "
        "Follow `next` with the same body.",
        parameters=[TEAM_PARAMETER],
        request=MemoryQuerySerializer,
        responses={200: MemorySerializer(many=True)},
    )
    @action(detail=False, methods=["post"], url_path="query", url_name="query")
    def query_memories(self, request, slug):
        """``POST .../memories/query/``."""
        self.query(paginated=True)
        body = self.body(MemoryQuerySerializer)
        queryset = selectors.memories_list(
            actor=self.actor,
            space=self.space,
            filters=body.get("filters"),
            states=_states(body["state"]),
        )
        return self.paginated(queryset, self._render_page)

    @extend_schema(
        tags=[TAG],
        summary="Add a memory",
        description="201 with the new memory; 200 with the existing one when an "
        "identical active memory exists in the same scope (deduplicated).",
        parameters=[TEAM_PARAMETER],
        request=MemoryCreateSerializer,
        responses={
            201: MemorySerializer,
            200: OpenApiResponse(MemorySerializer, description="Deduplicated."),
            **error_responses(403),
        },
    )
    def create(self, request, slug):
        """``POST .../memories/``."""
        self.query()
        data = self.body(MemoryCreateSerializer)
        memory, created = services.memory_add(
            actor=self.actor, space=self.space, data=data
        )
        sealing.memories_decrypt([memory], self.space)
        return Response(
            self._render(memory),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        tags=[TAG],
        summary="Add many memories",
        description="Up to MEMORYHUB_MAX_BATCH items, embedded in one batch. "
        "Each item gets its own result; invalid items do not stop valid ones.",
        parameters=[TEAM_PARAMETER],
        request=BatchCreateSerializer,
        responses={200: BatchResultSerializer, **error_responses(403)},
    )
    @action(detail=False, methods=["post"])
    def batch(self, request, slug):
        """``POST .../memories/batch/``."""
        self.query()
        items = self.body(BatchCreateSerializer)["items"]
        services.batch_size_check(len(items))
        results: list[dict] = [{} for _ in items]
        valid: list[tuple[int, dict]] = []
        # One serializer's fields for every object item: a new serializer
        # per item (its fields copied and bound anew) cost 0.13 ms an item,
        # reused 0.03. Anything else goes the usual way ("No data provided").
        check = MemoryCreateSerializer()
        for index, item in enumerate(items):
            if isinstance(item, dict):
                try:
                    valid.append((index, check.run_validation(item)))
                    continue
                except ValidationError as exc:
                    errors = exc.detail
            else:
                serializer = MemoryCreateSerializer(data=item)
                serializer.is_valid()
                errors = serializer.errors
            results[index] = AddResult.failed(_item_error(errors)).as_item(index=index)
        if valid:
            added = services.memory_add_many(
                actor=self.actor,
                space=self.space,
                items=[data for _, data in valid],
            )
            for (index, _), outcome in zip(valid, added, strict=True):
                results[index] = outcome.as_item(index=index)
        return Response(BatchResultSerializer({"results": results}).data)

    @extend_schema(
        tags=[TAG],
        summary="Get a memory",
        parameters=[TEAM_PARAMETER],
        responses={200: MemorySerializer},
    )
    def retrieve(self, request, slug, memory_id):
        """``GET .../memories/<id>/``."""
        self.query()
        memory = selectors.memory_get(
            actor=self.actor, space=self.space, memory_id=memory_id
        )
        return Response(self._render(memory))

    def _update(self, serializer_class, *, replace: bool, memory_id):
        self.query()
        data = dict(self.body(serializer_class))
        if replace:
            for name, empty in (
                ("metadata", {}),
                ("categories", []),
                ("expires_at", None),
            ):
                data.setdefault(name, empty)
        memory = services.memory_update(
            actor=self.actor, space=self.space, memory_id=memory_id, **data
        )
        sealing.memories_decrypt([memory], self.space)
        return Response(self._render(memory))

    @extend_schema(
        tags=[TAG],
        summary="Replace a memory's editable fields",
        description="`content` is required; omitted metadata, categories and "
        "expires_at are reset. Immutable memories answer 409.",
        parameters=[TEAM_PARAMETER],
        request=MemoryReplaceSerializer,
        responses={200: MemorySerializer, **error_responses(403, 409)},
    )
    def update(self, request, slug, memory_id):
        """``PUT .../memories/<id>/``."""
        return self._update(MemoryReplaceSerializer, replace=True, memory_id=memory_id)

    @extend_schema(
        tags=[TAG],
        summary="Change a memory",
        description="Only the given fields change; a content change is "
        "re-embedded and recorded in history. Immutable memories answer 409.",
        parameters=[TEAM_PARAMETER],
        request=MemoryUpdateSerializer,
        responses={200: MemorySerializer, **error_responses(403, 409)},
    )
    def partial_update(self, request, slug, memory_id):
        """``PATCH .../memories/<id>/``."""
        return self._update(MemoryUpdateSerializer, replace=False, memory_id=memory_id)

    @extend_schema(
        tags=[TAG],
        summary="Delete a memory",
        description="Soft delete (history kept); `?hard=true` erases the memory "
        "and its history.",
        parameters=[TEAM_PARAMETER, DeleteQuerySerializer],
        responses={204: None, **error_responses(403)},
    )
    def destroy(self, request, slug, memory_id):
        """``DELETE .../memories/<id>/``."""
        hard = self.query(DeleteQuerySerializer)["hard"]
        services.memory_delete(
            actor=self.actor, space=self.space, memory_id=memory_id, hard=hard
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        tags=[TAG],
        summary="Delete memories matching a filter",
        description='E.g. erase a user: `{"filters": {"user_id": "alice"}, '
        '"hard": true}`. At least one condition is required.',
        parameters=[TEAM_PARAMETER],
        request=BulkDeleteSerializer,
        responses={
            200: DeletedCountSerializer,
            **error_responses(403),
        },
    )
    @action(detail=False, methods=["post"], url_path="delete")
    def bulk_delete(self, request, slug):
        """``POST .../memories/delete/``."""
        self.query()
        body = self.body(BulkDeleteSerializer)
        deleted = services.memory_delete_by_filter(
            actor=self.actor,
            space=self.space,
            filters=body["filters"],
            hard=body["hard"],
        )
        return Response({"deleted": deleted})

    @extend_schema(
        tags=[TAG],
        summary="A memory's history",
        description="ADD / UPDATE / DELETE events, oldest first, with old and "
        "new content.",
        parameters=[TEAM_PARAMETER],
        responses={200: HistorySerializer},
    )
    @action(detail=True, methods=["get"])
    def history(self, request, slug, memory_id):
        """``GET .../memories/<id>/history/``."""
        self.query()
        events = selectors.memory_history(
            actor=self.actor, space=self.space, memory_id=memory_id
        )
        return Response(HistorySerializer({"results": events}).data)


class SearchActions:
    """Semantic / keyword search in one space, mixed into a space viewset."""

    early_embedding: tuple[str, Future] | None = None

    def before_space_lookup(self, request) -> None:
        """A search's query embedding starts before the space lookup.

        Only for a body that will pass as far as the embedding (a non-empty
        query within the size limit, a mode that embeds); the body is
        validated as always afterwards. One that is not JSON fails here with
        the 400 it would get there (whichever the space: it reveals nothing).
        """
        super().before_space_lookup(request)
        if self.action != "search" or not isinstance(request.data, dict):
            return
        query = request.data.get("query")
        pending = embed_search_query_soon(query, request.data.get("mode", "hybrid"))
        if pending is not None:
            self.early_embedding = (query, pending)

    @extend_schema(
        tags=[TAG],
        summary="Search memories",
        description="Hybrid (vector + keyword, fused), vector or keyword search "
        "among active, unexpired memories; each result carries `score`.",
        parameters=[TEAM_PARAMETER],
        request=SearchSerializer,
        responses={200: SearchResultSerializer},
    )
    @action(detail=True, methods=["post"], serializer_class=SearchResultSerializer)
    def search(self, request, slug):
        """``POST .../search/``."""
        self.query()
        body = self.body(SearchSerializer)
        early = self.early_embedding
        results = selectors.memory_search(
            actor=self.actor,
            space=self.space,
            query=body["query"],
            top_k=body["top_k"],
            threshold=body.get("threshold"),
            filters=body.get("filters"),
            mode=body["mode"],
            ef_search=body.get("ef_search"),
            pending_embedding=(
                early[1] if early is not None and early[0] == body["query"] else None
            ),
        )
        context = {**self.get_serializer_context(), "space": self.space}
        return Response(
            {
                "results": ScoredMemorySerializer(
                    results, many=True, context=context
                ).data
            }
        )
