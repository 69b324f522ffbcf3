"""The base view of the mem0-compatible API and what every view shares.

:class:`Mem0View` authenticates an API key (``Authorization: Token <key>``;
Bearer works too), shares the key's rate limit with the native API, and
resolves the key's space (:func:`key_space`), so ids in a body can never
reach another team. Its ``add``, ``list_page`` and ``search`` handlers serve
every path version of those operations.
"""

from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from accounts.actors import actor_from_request
from accounts.api.throttling import ApiKeyRateThrottle
from accounts.authentication import ApiKeyAuthentication
from memories import permissions, selectors, services
from memories.embedding import embed_search_query_soon
from memories.encryption import sealing
from memories.mem0api import mapping, serializers
from memories.models import MemoryState
from memories.services.extraction import ExtractionFailed
from memories.services.extraction_settings import extraction_settings
from memories.validation import clean_memory_input
from memoryhub.api.parsers import JSONParser
from memoryhub.errors import InvalidInput, NotFound, TooLarge

SURFACE = "mem0"
DEFAULT_SPACE = "default"
SPACE_HEADER = "HTTP_X_MEMORYHUB_SPACE"
PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
VISIBLE = (MemoryState.ACTIVE, MemoryState.ARCHIVED)


def key_space(actor, slug: str | None = None):
    """The space a key works in: named by header, its only space, or ``default``.

    A key restricted to exactly one space uses it; any other key uses its
    team's ``default`` space unless the ``X-MemoryHub-Space`` header names
    another visible space.
    """
    if slug:
        return selectors.space_get(actor=actor, slug=slug)
    single = len(actor.key_space_ids) == 1
    lookup = {"pk__in": actor.key_space_ids} if single else {"slug": DEFAULT_SPACE}
    # The key's own space by one simple query first (every mem0-compatible
    # and MCP request resolves one); then spaces shared from other teams.
    space = (
        selectors.key_own_space(actor, pks=actor.key_space_ids)
        if single
        else selectors.key_own_space(actor, slug=DEFAULT_SPACE)
    )
    if space is None:
        visible = permissions.spaces_visible_to(actor).filter(**lookup)
        if not single:
            visible = visible.filter(team_id=actor.api_key.team_id)
        space = visible.first()
    if space is None:
        team = actor.api_key.team.slug
        raise InvalidInput(
            f"this key has no space to work in: create a space named "
            f"{DEFAULT_SPACE!r} in team {team!r}, restrict the key to one space, "
            "or send the header X-MemoryHub-Space: <space slug>"
        )
    return space


def body_of(request) -> dict:
    """The JSON body as an object (an empty body is ``{}``)."""
    data = request.data
    if data in (None, ""):
        return {}
    if not isinstance(data, dict):
        raise InvalidInput("the request body must be a JSON object")
    return data


def memory_id_or_404(value):
    """A memory id from the URL; anything but a UUID is simply not found."""
    memory_id = mapping.parse_uuid(value)
    if memory_id is None:
        raise NotFound(f"memory {str(value)[:64]!r} not found")
    return memory_id


def update_memory(*, actor, space, memory_id, body: dict):
    """Apply a mem0 update body through ``memory_update``; returns it decrypted."""
    changes = {}
    if body.get("text") is not None:
        changes["content"] = body["text"]
    for name in ("metadata", "categories", "immutable"):
        if body.get(name) is not None:
            changes[name] = body[name]
    if "expiration_date" in body:
        changes["expires_at"] = mapping.parse_expiration(body["expiration_date"])
    if not changes:
        raise InvalidInput(
            "nothing to update: send text, metadata, categories or expiration_date"
        )
    memory = services.memory_update(
        actor=actor, space=space, memory_id=memory_id, surface=SURFACE, **changes
    )
    return sealing.memories_decrypt([memory], space)[0]


class Mem0View(APIView):
    """Base view: API-key auth, the key's rate limit and space, mem0 errors."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    # mem0 documents these paths; the OpenAPI schema covers the native API.
    schema = None
    _space = None

    @property
    def actor(self):
        """The key's actor (set by :class:`ApiKeyAuthentication`)."""
        return actor_from_request(self.request)

    @property
    def space(self):
        """The key's space, resolved once per request."""
        if self._space is None:
            slug = self.request.META.get(SPACE_HEADER, "").strip() or None
            self._space = key_space(self.actor, slug)
        return self._space

    def scope(self) -> dict:
        """The keyword arguments every service call takes."""
        return {"actor": self.actor, "space": self.space}

    # --- shared handlers ------------------------------------------------------

    def add(self, request) -> Response:
        """Extract memories from the messages (``infer``), or store each
        non-system message as a memory."""
        body = body_of(request)
        infer = body.get("infer")
        if infer not in (None, True, False):
            raise InvalidInput("infer must be true or false", field="infer")
        if infer is None:  # the space decides (docs/extraction.md)
            infer = extraction_settings(self.space).infer_by_default
        if infer:
            return self.extract(body)
        items = mapping.add_items(body)
        for index, item in enumerate(items):
            # Validate all first, so a bad item stores nothing.
            try:
                clean_memory_input(item, retention_days=self.space.retention_days)
            except (InvalidInput, TooLarge) as exc:
                if exc.field == "content":  # say which message it was
                    exc.message = f"messages[{index}]: {exc.message}"
                raise
        event_id = mapping.new_event_id()
        results = services.memory_add_many(
            **self.scope(),
            items=items,
            surface=SURFACE,
            audit_detail={"request_id": str(event_id)},
        )
        for result in results:
            if not result.ok:
                raise InvalidInput(result.error, field=result.field)
        sealing.memories_decrypt([r.memory for r in results], self.space)
        rendered = [serializers.add_result(result) for result in results]
        if body.get("output_format") == mapping.OUTPUT_V1_0:
            return Response(rendered)
        return Response(
            {
                "results": rendered,
                "event_id": str(event_id),
                "status": "SUCCEEDED",
                "message": "Memories stored successfully.",
            }
        )

    def extract(self, body: dict) -> Response:
        """An ``infer`` add: queued (``PENDING``) unless ``async_mode`` is false."""
        async_mode = body.get("async_mode", True)
        if not isinstance(async_mode, bool):
            raise InvalidInput("async_mode must be true or false", field="async_mode")
        event = services.extraction_submit(
            **self.scope(),
            messages=body.get("messages"),
            scope=mapping.scope_ids(body),
            options=mapping.add_options(body),
            surface=SURFACE,
            wait=not async_mode,
        )
        if not async_mode:
            if event.state == event.State.FAILED:
                raise ExtractionFailed(f"extraction {event.id} failed: {event.failure}")
            results = selectors.extraction_results(
                **self.scope(), event=event, surface=SURFACE
            )
            rendered = [
                serializers.extraction_result(entry, event.scope) for entry in results
            ]
            if body.get("output_format") == mapping.OUTPUT_V1_0:
                return Response(rendered)
            return Response(
                {
                    "results": rendered,
                    "event_id": str(event.id),
                    "status": event.state,
                    "message": "Memories extracted.",
                }
            )
        message = "Memory processing has been queued for background execution"
        pending = {"message": message, "status": event.state, "event_id": str(event.id)}
        return Response({"results": [pending], **pending})

    def list_page(self, request, params: dict) -> Response:
        """A page of memories matching the filters, in the DRF page shape."""
        filters = mapping.read_filters(params)
        page = mapping.positive_int(
            params.get("page"), "page", default=1, maximum=10**9
        )
        size = mapping.positive_int(
            params.get("page_size"),
            "page_size",
            default=PAGE_SIZE,
            maximum=MAX_PAGE_SIZE,
        )
        queryset = selectors.memories_list(
            **self.scope(),
            filters=filters,
            include_expired=mapping.query_bool(params, "show_expired"),
        )
        count = queryset.count()
        rows = queryset[(page - 1) * size : page * size]
        memories = selectors.memory_page_decrypt(
            **self.scope(), memories=rows, surface=SURFACE
        )
        results = [serializers.memory_object(m) for m in memories]
        if params.get("output_format") == mapping.OUTPUT_V1_0:
            return Response(results)
        url = request.build_absolute_uri()
        url = replace_query_param(url, "page_size", size)
        return Response(
            {
                "count": count,
                "next": (
                    replace_query_param(url, "page", page + 1)
                    if page * size < count
                    else None
                ),
                "previous": (
                    replace_query_param(url, "page", page - 1) if page > 1 else None
                ),
                "results": results,
            }
        )

    def search(self, request) -> Response:
        """Semantic + keyword search, results with ``score``."""
        body = body_of(request)
        query, mode = body.get("query"), body.get("mode") or "hybrid"
        # Embedded while the key's space is looked up (memories.embedding).
        pending = embed_search_query_soon(query, mode)
        top_k = body.get("top_k", body.get("limit"))
        queryset = None
        if mapping.query_bool(body, "show_expired"):
            queryset = selectors.memories_in(space=self.space, include_expired=True)
        memories = selectors.memory_search(
            **self.scope(),
            query=query,
            top_k=10 if top_k is None else top_k,
            threshold=body.get("threshold"),
            filters=mapping.read_filters(body),
            mode=mode,
            surface=SURFACE,
            queryset=queryset,
            pending_embedding=pending,
        )
        results = [serializers.memory_object(m, score=m.score) for m in memories]
        if body.get("output_format") == mapping.OUTPUT_V1_0:
            return Response(results)
        return Response({"results": results})


def query_params(request) -> dict:
    """Query parameters as a plain dict, with a ``filters`` parameter parsed."""
    params = {key: request.query_params.get(key) for key in request.query_params}
    if "filters" in params:
        params["filters"] = mapping.filters_param(params["filters"])
    return params
