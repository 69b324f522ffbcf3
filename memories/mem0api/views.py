"""mem0-compatible views: one class per path, each a thin call into the
services and selectors through :class:`~memories.mem0api.base.Mem0View`.

Errors go through the project's exception handler as ``{"detail": ...}``
with the matching status, which mem0's clients turn into typed exceptions.
"""

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from rest_framework.response import Response

from audit.services import access_record
from memories import selectors, services
from memories.mem0api import mapping, serializers
from memories.mem0api.base import (
    SURFACE,
    VISIBLE,
    Mem0View,
    body_of,
    memory_id_or_404,
    query_params,
    update_memory,
)
from memoryhub.errors import InvalidInput, NotFound, TooLarge

MAX_EXPORT = 10_000
EXPORT_SECONDS = 24 * 3600
FEEDBACK_VALUES = ("POSITIVE", "NEGATIVE", "VERY_NEGATIVE")


class PingView(Mem0View):
    """``GET /v1/ping/``: validates the key; org/project name its team and space."""

    def get(self, request):
        """Answer with the identifiers ``MemoryClient`` keeps."""
        space, key = self.space, self.actor.api_key
        creator = key.created_by
        return Response(
            {
                "status": "ok",
                "message": "pong",
                "org_id": key.team.slug,
                "org_name": key.team.name,
                "project_id": str(space.uuid),
                "project_name": space.name,
                "space": f"{key.team.slug}/{space.slug}",
                "user_email": (creator.email or None) if creator else None,
            }
        )


class AddView(Mem0View):
    """``POST /v3/memories/add/``."""

    def post(self, request):
        """Add memories."""
        return self.add(request)


class MemoriesV1View(Mem0View):
    """``/v1/memories/``: GET lists, POST adds, DELETE deletes by ids."""

    def get(self, request):
        """List memories (ids as query parameters)."""
        return self.list_page(request, query_params(request))

    def post(self, request):
        """Add memories (the older clients' path)."""
        return self.add(request)

    def delete(self, request):
        """Delete the memories of a user/agent/app/run (soft, history kept)."""
        filters = mapping.read_filters(query_params(request))
        if not filters:
            raise InvalidInput(
                "name whose memories to delete: at least one of user_id, agent_id, "
                "app_id, run_id (or filters)"
            )
        count = services.memory_delete_by_filter(
            **self.scope(), filters=filters, surface=SURFACE
        )
        return Response({"message": "Memories deleted successfully!", "count": count})


class ListView(Mem0View):
    """``POST /v3/memories/`` and ``/v2/memories/``: filters in the body."""

    def post(self, request):
        """List memories; ``page``/``page_size`` as query or body values."""
        params = {**body_of(request), **query_params(request)}
        return self.list_page(request, params)


class SearchView(Mem0View):
    """``POST /v{1,2,3}/memories/search/``."""

    def post(self, request):
        """Search memories."""
        return self.search(request)


class MemoryDetailView(Mem0View):
    """``/v1/memories/<id>/``: GET, PUT (text, metadata, expiry) and DELETE."""

    def get(self, request, memory_id):
        """One memory."""
        memory = selectors.memory_get(
            **self.scope(), memory_id=memory_id_or_404(memory_id), surface=SURFACE
        )
        return Response(serializers.memory_object(memory))

    def put(self, request, memory_id):
        """Update a memory; ``expiration_date: null`` makes it permanent."""
        memory = update_memory(
            **self.scope(), memory_id=memory_id_or_404(memory_id), body=body_of(request)
        )
        return Response(serializers.memory_object(memory))

    def delete(self, request, memory_id):
        """Delete a memory (soft: its history stays readable)."""
        services.memory_delete(
            **self.scope(), memory_id=memory_id_or_404(memory_id), surface=SURFACE
        )
        return Response({"message": "Memory deleted successfully!"})


class MemoryHistoryView(Mem0View):
    """``GET /v1/memories/<id>/history/``."""

    def get(self, request, memory_id):
        """The memory's ADD/UPDATE/DELETE events, oldest first."""
        events = selectors.memory_history(
            **self.scope(), memory_id=memory_id_or_404(memory_id), surface=SURFACE
        )
        return Response([serializers.history_entry(event) for event in events])


class EntitiesView(Mem0View):
    """``GET /v1/entities/``: users, agents, apps and runs with memories."""

    def get(self, request):
        """List the entities of the key's space."""
        rows = selectors.memory_entities(**self.scope(), surface=SURFACE)
        team = self.actor.api_key.team.slug
        results = [serializers.entity_object(row, organization=team) for row in rows]
        return Response({"count": len(results), "results": results})


class EntityDeleteView(Mem0View):
    """``DELETE /v2/entities/<type>/<name>/``: erase an entity's memories."""

    def delete(self, request, entity_type, name):
        """Erase every memory of the entity, history included."""
        field = mapping.ENTITY_TYPES.get(entity_type)
        if field is None:
            raise InvalidInput(
                f"invalid entity type {entity_type[:20]!r}; use user, agent, app or run"
            )
        count = services.memory_delete_by_filter(
            **self.scope(), filters={field: name}, hard=True, surface=SURFACE
        )
        if not count:
            raise NotFound(f"{entity_type} {name[:64]!r} has no memories here")
        return Response({"message": "Entity deleted successfully!", "count": count})


class BatchView(Mem0View):
    """``/v1/batch/``: PUT updates and DELETE deletes, all or nothing."""

    def items(self, request) -> list[dict]:
        """The ``memories`` list of the body, each with a ``memory_id``."""
        items = body_of(request).get("memories")
        if not isinstance(items, list) or not items:
            raise InvalidInput(
                'memories must be a non-empty list of {"memory_id": ...}',
                field="memories",
            )
        services.batch_size_check(len(items))
        for index, item in enumerate(items):
            if not isinstance(item, dict) or "memory_id" not in item:
                raise InvalidInput(
                    f"memories[{index}] must be an object with a memory_id",
                    field=f"memories[{index}]",
                )
        return items

    def put(self, request):
        """Update several memories in one transaction."""
        items = self.items(request)
        with transaction.atomic():
            for item in items:
                update_memory(
                    **self.scope(),
                    memory_id=memory_id_or_404(item["memory_id"]),
                    body=item,
                )
        return Response({"message": f"Successfully updated {len(items)} memories"})

    def delete(self, request):
        """Delete several memories in one transaction."""
        items = self.items(request)
        with transaction.atomic():
            for item in items:
                services.memory_delete(
                    **self.scope(),
                    memory_id=memory_id_or_404(item["memory_id"]),
                    surface=SURFACE,
                )
        return Response({"message": f"Successfully deleted {len(items)} memories"})


def _export_key(space, export_id) -> str:
    """Cache key of an export request (per space, so ids cannot cross spaces)."""
    return f"mem0:export:{space.pk}:{export_id}"


class ExportCreateView(Mem0View):
    """``POST /v1/exports/``: remember an export request (schema + filters)."""

    def post(self, request):
        """Validate the request and keep it for ``/v1/exports/get/``."""
        body = body_of(request)
        schema = body.get("schema")
        if isinstance(schema, str):
            schema = mapping.filters_param(schema)
        if not isinstance(schema, dict):
            raise InvalidInput("schema must be a JSON schema object", field="schema")
        filters = mapping.read_filters(body)
        selectors.memories_list(**self.scope(), filters=filters)  # perm + filters
        export_id = mapping.new_event_id()
        # Only the request is cached (no memory content); the export itself is
        # decrypted when it is fetched.
        cache.set(
            _export_key(self.space, export_id),
            {"schema": schema, "filters": filters, "at": timezone.now().isoformat()},
            EXPORT_SECONDS,
        )
        return Response(
            {
                "message": "Memory export request received. The export will be "
                "ready in a few seconds.",
                "id": str(export_id),
            },
            status=201,
        )


class ExportGetView(Mem0View):
    """``POST /v1/exports/get/``: the memories of an export, with its schema.

    Schema-driven extraction needs an LLM, which MemoryHub does not run; the
    export returns the matching memories and echoes the schema.
    """

    def post(self, request):
        """Return the export named by ``memory_export_id``, or by ``filters``."""
        body = body_of(request)
        export_id = body.get("memory_export_id") or body.get("id")
        schema = None
        if export_id:
            stored = cache.get(_export_key(self.space, export_id))
            if stored is None:
                raise NotFound(f"export {str(export_id)[:64]!r} not found or expired")
            schema, filters = stored["schema"], stored["filters"]
        else:
            filters = mapping.read_filters(body)
        queryset = selectors.memories_list(**self.scope(), filters=filters)
        rows = list(queryset[: MAX_EXPORT + 1])
        if len(rows) > MAX_EXPORT:
            raise TooLarge(
                f"an export holds at most {MAX_EXPORT} memories; narrow the filters"
            )
        memories = selectors.memory_page_decrypt(
            **self.scope(), memories=rows, surface=SURFACE, action="memory.export"
        )
        return Response(
            {
                "id": str(export_id) if export_id else None,
                "status": "completed",
                "schema": schema,
                "filters": filters,
                "count": len(memories),
                "memories": [serializers.memory_object(m) for m in memories],
            }
        )


class FeedbackView(Mem0View):
    """``POST /v1/feedback/``: recorded in the audit log (value only)."""

    def post(self, request):
        """Record POSITIVE / NEGATIVE / VERY_NEGATIVE feedback on a memory."""
        body = body_of(request)
        memory_id = memory_id_or_404(body.get("memory_id"))
        feedback = body.get("feedback")
        if feedback is not None and feedback not in FEEDBACK_VALUES:
            raise InvalidInput(
                f"feedback must be one of {', '.join(FEEDBACK_VALUES)} or null",
                field="feedback",
            )
        reason = body.get("feedback_reason")
        if reason is not None and not isinstance(reason, str):
            raise InvalidInput("feedback_reason must be a string", field="feedback")
        visible = selectors.memories_list(**self.scope(), states=VISIBLE)
        if not visible.filter(pk=memory_id).exists():
            raise NotFound(f"memory {memory_id} not found")
        # The reason is free text a person wrote: it is not stored, like any
        # other plaintext outside the encrypted content.
        access_record(
            **self.scope(),
            action="memory.feedback",
            surface=SURFACE,
            memory_ids=[memory_id],
            detail={"feedback": feedback, "with_reason": bool(reason)},
        )
        return Response(
            {
                "id": str(mapping.new_event_id()),
                "memory_id": str(memory_id),
                "feedback": feedback,
                "feedback_reason": reason,
            }
        )


class SummaryView(Mem0View):
    """``POST /v1/summary/``: the extraction model summarises memories."""

    def post(self, request):
        """Summarise the memories matching ``filters`` (the newest 200)."""
        body = body_of(request)
        summary = selectors.memories_summarize(
            **self.scope(), filters=mapping.read_filters(body), surface=SURFACE
        )
        return Response({"status": "SUCCEEDED", **summary})


def _extraction_event(view, event) -> Response:
    """An extraction's ``/v1/event/`` answer: status, results once done."""
    results = []
    if event.state == event.State.SUCCEEDED:
        results = [
            serializers.extraction_result(entry, event.scope)
            for entry in selectors.extraction_results(
                **view.scope(), event=event, surface=SURFACE
            )
        ]
    started, finished = event.started_at, event.finished_at
    latency = (finished - event.created_at).total_seconds() * 1000 if finished else None
    return Response(
        {
            "id": str(event.id),
            "event_type": "ADD",
            "status": event.state,
            "payload": {},
            "metadata": {
                "infer": True,
                "messages": event.message_count,
                "model": event.model,
                "model_calls": event.model_calls,
                "model_ms": round(event.model_ms, 1),
            },
            "results": results,
            "error": event.failure or None,
            "created_at": event.created_at.isoformat(),
            "updated_at": (finished or started or event.created_at).isoformat(),
            "started_at": started.isoformat() if started else None,
            "completed_at": finished.isoformat() if finished else None,
            "latency": round(latency, 1) if latency is not None else None,
        }
    )


class EventView(Mem0View):
    """``GET /v1/event/<id>/``: the outcome of an add — an extraction's state
    (``PENDING``/``RUNNING``/``SUCCEEDED``/``FAILED``) or a stored add."""

    def get(self, request, event_id):
        """The add's status and the memories it stored (those still visible)."""
        parsed = mapping.parse_uuid(event_id)
        if parsed is not None:
            try:
                event = selectors.extraction_event_get(**self.scope(), event_id=parsed)
            except NotFound:
                event = None  # not an extraction: maybe a stored add
            if event is not None:
                return _extraction_event(self, event)
        near = mapping.event_time(parsed) if parsed else None
        found = None
        if near is not None:
            found = selectors.memory_add_request(
                **self.scope(), request_id=str(parsed), near=near
            )
        if found is None:
            raise NotFound(f"event {str(event_id)[:64]!r} not found")
        ids, at = found
        rows = selectors.memories_list(**self.scope(), states=VISIBLE).filter(
            pk__in=ids
        )
        memories = selectors.memory_page_decrypt(
            **self.scope(), memories=rows, surface=SURFACE, action="memory.read"
        )
        order = {memory_id: index for index, memory_id in enumerate(ids)}
        memories.sort(key=lambda memory: order[memory.pk])
        stamp = at.isoformat()
        return Response(
            {
                "id": str(parsed),
                "event_type": "ADD",
                "status": "SUCCEEDED",
                "payload": {},
                "metadata": {},
                "results": [
                    {
                        "id": str(m.pk),
                        "memory": m.plaintext,
                        "event": "ADD",
                        "data": {"memory": m.plaintext},
                        **{f: getattr(m, f) or None for f in mapping.ENTITY_FIELDS},
                    }
                    for m in memories
                ],
                "created_at": stamp,
                "updated_at": stamp,
                "started_at": stamp,
                "completed_at": stamp,
                "latency": 0,
            }
        )
