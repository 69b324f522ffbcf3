"""Extraction in the native API (docs/extraction.md).

- ``POST /spaces/<slug>/memories/extract/`` (``add_memory``): messages in,
  an event out — ``202`` and ``PENDING``, or with ``"wait": true`` the
  finished event and its results (a failed model is a ``503``).
- ``GET /spaces/<slug>/extractions/`` and ``…/extractions/<id>/``: events.
- ``GET|PATCH /spaces/<slug>/extraction/``: the space's settings (reading
  needs ``view_space``, changing ``manage_space``).
- ``POST /spaces/<slug>/summary/``: the model summarises memories.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from memories import permissions, selectors, services
from memories.api.viewsets import TEAM_PARAMETER, SpaceViewSet
from memories.models import ExtractionEvent
from memories.services.extraction import ExtractionFailed
from memories.validation import SCOPE_FIELDS
from memoryhub.api.schema import error_responses

TAG = "extraction"
EXTRACTION_STATES = ExtractionEvent.State.choices  # named in ENUM_NAME_OVERRIDES


# --- serializers -------------------------------------------------------------------


class CategorySerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(
        max_length=300, allow_blank=True, required=False
    )


class ExtractionSettingsSerializer(serializers.Serializer):
    infer_by_default = serializers.BooleanField(
        required=False,
        help_text="Extract when a mem0 client's add leaves `infer` out.",
    )
    instructions = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=4000,
        trim_whitespace=False,
        help_text="What to keep and what never to keep, for the model.",
    )
    categories = CategorySerializer(many=True, required=False)
    max_memories_per_subject = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=1_000_000,
        help_text="Archive a subject's oldest active memories beyond this many.",
    )


class MessageSerializer(serializers.Serializer):
    role = serializers.CharField(max_length=32, default="user")
    content = serializers.CharField(trim_whitespace=False)


class ExtractSerializer(serializers.Serializer):
    messages = MessageSerializer(many=True, allow_empty=False)
    user_id = serializers.CharField(required=False, allow_blank=True)
    agent_id = serializers.CharField(required=False, allow_blank=True)
    app_id = serializers.CharField(required=False, allow_blank=True)
    run_id = serializers.CharField(required=False, allow_blank=True)
    metadata = serializers.JSONField(required=False)
    categories = serializers.ListField(child=serializers.CharField(), required=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    immutable = serializers.BooleanField(required=False, default=False)
    instructions = serializers.CharField(
        required=False, allow_blank=True, trim_whitespace=False
    )
    wait = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Run now and answer with the results (else 202 and PENDING).",
    )


class ExtractionResultSerializer(serializers.Serializer):
    id = serializers.UUIDField(allow_null=True)
    event = serializers.ChoiceField(choices=["ADD", "UPDATE", "DELETE", "NONE"])
    memory = serializers.CharField(allow_null=True)
    previous_memory = serializers.CharField(allow_null=True, required=False)
    categories = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField(required=False)


class ExtractionEventSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=EXTRACTION_STATES)
    surface = serializers.CharField()
    actor = serializers.CharField()
    scope = serializers.DictField(child=serializers.CharField())
    message_count = serializers.IntegerField()
    model = serializers.CharField()
    model_calls = serializers.IntegerField()
    model_ms = serializers.FloatField()
    usage = serializers.DictField(child=serializers.IntegerField())
    failure = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class ExtractionEventDetailSerializer(ExtractionEventSerializer):
    """An event with its results (rendered by :func:`render_event`)."""

    results = ExtractionResultSerializer(many=True, required=False)


class SummaryRequestSerializer(serializers.Serializer):
    filters = serializers.JSONField(required=False, allow_null=True)


class SummarySerializer(serializers.Serializer):
    summary = serializers.CharField(allow_blank=True)
    count = serializers.IntegerField()
    model = serializers.CharField()
    usage = serializers.DictField(child=serializers.IntegerField(), required=False)


def render_event(view, event: ExtractionEvent, *, with_results: bool) -> dict:
    """An event as the API shows it; results (decrypted, audited) once done."""
    data = ExtractionEventSerializer(event).data
    if with_results and event.state == ExtractionEvent.State.SUCCEEDED:
        data["results"] = ExtractionResultSerializer(
            selectors.extraction_results(
                actor=view.actor, space=view.space, event=event
            ),
            many=True,
        ).data
    return data


# --- views -------------------------------------------------------------------------


class ExtractAction:
    """``POST .../memories/extract/``, mixed into the memories viewset (whose
    ``action_perms`` ask ``add_memory`` for ``extract``)."""

    @extend_schema(
        tags=[TAG],
        summary="Extract memories from messages",
        description="The space's model pulls out the facts worth keeping and "
        "decides per fact to ADD it, UPDATE or DELETE a related memory of the "
        "same subject, or do NONE. Queued (202, state PENDING; poll "
        "`extractions/<id>/`) unless `wait` is true. Needs a configured model "
        "allowed to see content; a failed model is a 503 when waiting.",
        parameters=[TEAM_PARAMETER],
        request=ExtractSerializer,
        responses={
            200: ExtractionEventDetailSerializer,
            202: ExtractionEventSerializer,
            **error_responses(403, 503),
        },
    )
    @action(detail=False, methods=["post"])
    def extract(self, request, slug):
        """``POST .../memories/extract/``."""
        self.query()
        body = self.body(ExtractSerializer)
        event = services.extraction_submit(
            actor=self.actor,
            space=self.space,
            messages=[dict(message) for message in body["messages"]],
            scope={name: body.get(name) for name in SCOPE_FIELDS},
            options={
                name: body.get(name)
                for name in (
                    "metadata",
                    "categories",
                    "expires_at",
                    "immutable",
                    "instructions",
                )
            },
            surface="api",
            wait=body["wait"],
        )
        if not body["wait"]:
            return Response(
                render_event(self, event, with_results=False),
                status=status.HTTP_202_ACCEPTED,
            )
        if event.state == ExtractionEvent.State.FAILED:
            raise ExtractionFailed(f"extraction {event.id} failed: {event.failure}")
        return Response(render_event(self, event, with_results=True))


class ExtractionEventViewSet(SpaceViewSet):
    """``/spaces/<slug>/extractions/``: a space's extraction events."""

    lookup_url_kwarg = "event_id"
    lookup_value_converter = "uuid"
    serializer_class = ExtractionEventSerializer

    @extend_schema(
        tags=[TAG],
        summary="List extraction events",
        description="The space's latest 50 extraction events, newest first "
        "(states and counts; no results), as one page.",
        parameters=[TEAM_PARAMETER],
        responses={200: ExtractionEventSerializer(many=True)},
    )
    def list(self, request, slug):
        """``GET .../extractions/``."""
        self.query()
        events = selectors.extraction_events_of(
            actor=self.actor, space=self.space, limit=50
        )
        return Response(
            {
                "next": None,
                "previous": None,
                "results": [
                    render_event(self, event, with_results=False) for event in events
                ],
            }
        )

    @extend_schema(
        tags=[TAG],
        summary="Get an extraction event",
        description="Its state (PENDING, RUNNING, SUCCEEDED, FAILED with the "
        "reason) and, once it succeeded, its results with their text.",
        parameters=[TEAM_PARAMETER],
        responses={200: ExtractionEventDetailSerializer},
    )
    def retrieve(self, request, slug, event_id):
        """``GET .../extractions/<id>/``."""
        self.query()
        event = selectors.extraction_event_get(
            actor=self.actor, space=self.space, event_id=event_id
        )
        return Response(render_event(self, event, with_results=True))


class ExtractionSpaceActions:
    """``extraction/`` (settings) and ``summary/``, mixed into the spaces
    viewset (whose ``action_perms`` ask view for both: changing the
    settings is checked for ``manage_space`` by the service)."""

    @extend_schema(
        methods=["GET"],
        tags=[TAG],
        summary="Get the space's extraction settings",
        parameters=[TEAM_PARAMETER],
        responses={200: ExtractionSettingsSerializer},
    )
    @extend_schema(
        methods=["PATCH"],
        tags=[TAG],
        summary="Change the space's extraction settings",
        description="Space managers only.",
        parameters=[TEAM_PARAMETER],
        request=ExtractionSettingsSerializer,
        responses={200: ExtractionSettingsSerializer, **error_responses(403)},
    )
    @action(detail=True, methods=["get", "patch"], url_path="extraction")
    def extraction(self, request, slug):
        """``GET|PATCH .../extraction/``."""
        self.query()
        if request.method == "PATCH":
            permissions.require_perm(self.actor, self.space, permissions.MANAGE)
            changes = self.body(ExtractionSettingsSerializer)
            if "categories" in changes:
                changes["categories"] = [dict(c) for c in changes["categories"]]
            current = services.extraction_settings_update(
                actor=self.actor, space=self.space, **changes
            )
        else:
            current = services.extraction_settings(self.space)
        return Response(ExtractionSettingsSerializer(current).data)

    @extend_schema(
        tags=[TAG],
        summary="Summarise memories",
        description="The space's model summarises the newest 200 memories "
        "matching `filters` (MemoryHub's filter language). Their content is "
        "sent to the model; the read is audited.",
        parameters=[TEAM_PARAMETER],
        request=SummaryRequestSerializer,
        responses={200: SummarySerializer, **error_responses(503)},
    )
    @action(detail=True, methods=["post"])
    def summary(self, request, slug):
        """``POST .../summary/``."""
        self.query()
        body = self.body(SummaryRequestSerializer)
        found = selectors.memories_summarize(
            actor=self.actor, space=self.space, filters=body.get("filters")
        )
        return Response(SummarySerializer(found).data)
