"""Serializers of the memory endpoints: the memory JSON and request bodies.

Output serializers read attributes the selectors set (``plaintext``,
``score``); they never decrypt or query. Input serializers type-check and
refuse unknown fields; limits (content size, metadata size, batch size) are
enforced by the services so every surface applies the same ones.
"""

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from memories.filters import STATES
from memories.models import MemoryEvent
from memories.search import MAX_EF_SEARCH
from memoryhub.api.serializers import (
    QueryCharField,
    StrictBooleanField,
    StrictCharField,
    StrictDictField,
    StrictFloatField,
    StrictIntegerField,
    StrictSerializer,
)

# Named choice sets (see SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]).
MEMORY_STATES = list(STATES)
MEMORY_STATE_FILTERS = [*STATES, "all"]
MEMORY_EDITABLE_STATES = ["active", "archived"]
SCOPE_HELP = "Scope id (empty when unset); memories dedupe per space and scope."
FILTERS_HELP = (
    "Filter object (mem0 v2 style), e.g. "
    '{"user_id": "alice", "created_at": {"gte": "2024-07-01"}}.'
)


class MemorySerializer(serializers.Serializer):
    """A memory as every endpoint returns it (content decrypted)."""

    id = serializers.UUIDField(read_only=True)
    space = serializers.SerializerMethodField(help_text="Slug of the space.")
    content = serializers.CharField(source="plaintext", read_only=True)
    user_id = serializers.CharField(read_only=True, help_text=SCOPE_HELP)
    agent_id = serializers.CharField(read_only=True, help_text=SCOPE_HELP)
    app_id = serializers.CharField(read_only=True, help_text=SCOPE_HELP)
    run_id = serializers.CharField(read_only=True, help_text=SCOPE_HELP)
    metadata = serializers.DictField(read_only=True, child=serializers.JSONField())
    categories = serializers.ListField(read_only=True, child=serializers.CharField())
    state = serializers.ChoiceField(choices=MEMORY_STATES, read_only=True)
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    immutable = serializers.BooleanField(read_only=True)
    version = serializers.IntegerField(read_only=True)
    hash = serializers.SerializerMethodField(
        help_text="Keyed HMAC of the content (hex): equal within a space for "
        "equal content."
    )
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    @extend_schema_field(serializers.CharField())
    def get_space(self, memory) -> str:
        """The space slug (from the view's context: no query per memory)."""
        space = self.context.get("space")
        return space.slug if space is not None else memory.space.slug

    @extend_schema_field(serializers.CharField())
    def get_hash(self, memory) -> str:
        """``content_mac`` as hex."""
        return bytes(memory.content_mac).hex()

    def to_representation(self, memory) -> dict:
        """The same dict the declared fields give, built in one step.

        The fields above stay the contract (and the OpenAPI schema); walking
        them per memory cost about a tenth of a search request, so the dict is
        assembled directly. ``test_memory_representation_matches_the_fields``
        holds the two to the same output.
        """
        when = _DATETIME.to_representation
        expires_at = memory.expires_at
        return {
            "id": str(memory.pk),
            "space": self.get_space(memory),
            "content": memory.plaintext,
            "user_id": memory.user_id,
            "agent_id": memory.agent_id,
            "app_id": memory.app_id,
            "run_id": memory.run_id,
            "metadata": {str(key): value for key, value in memory.metadata.items()},
            "categories": list(memory.categories),
            "state": memory.state,
            "expires_at": None if expires_at is None else when(expires_at),
            "immutable": memory.immutable,
            "version": memory.version,
            "hash": self.get_hash(memory),
            "created_at": when(memory.created_at),
            "updated_at": when(memory.updated_at),
        }


_DATETIME = serializers.DateTimeField()


class ScoredMemorySerializer(MemorySerializer):
    """A search result: a memory and its relevance score."""

    score = serializers.FloatField(read_only=True)

    def to_representation(self, memory) -> dict:
        """The memory's dict plus ``score``."""
        return {**super().to_representation(memory), "score": float(memory.score)}


class MemoryCreateSerializer(StrictSerializer):
    """Body of ``POST .../memories/`` (and of each batch item)."""

    content = StrictCharField(
        help_text="The memory text (limit MEMORYHUB_MAX_CONTENT_CHARS; 413 above)."
    )
    user_id = StrictCharField(required=False, allow_blank=True, allow_null=True)
    agent_id = StrictCharField(required=False, allow_blank=True, allow_null=True)
    app_id = StrictCharField(required=False, allow_blank=True, allow_null=True)
    run_id = StrictCharField(required=False, allow_blank=True, allow_null=True)
    metadata = StrictDictField(required=False, allow_null=True)
    categories = serializers.ListField(
        child=StrictCharField(), required=False, allow_null=True
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    immutable = StrictBooleanField(required=False, default=False)


class BatchCreateSerializer(StrictSerializer):
    """Body of ``POST .../memories/batch/``."""

    items = serializers.ListField(
        child=serializers.JSONField(),
        allow_empty=False,
        help_text="Memories as for a single create; at most MEMORYHUB_MAX_BATCH "
        "(413 above).",
    )


def _add_result_serializer(name: str, doc: str, position: str, **kwargs) -> type:
    """The serializer of :meth:`memories.services.AddResult.as_item` items.

    One definition for every batch path (batch create, import); ``position``
    (``index`` or ``line``) comes first, as the items put it.
    """
    fields = {
        position: serializers.IntegerField(**kwargs),
        "status": serializers.ChoiceField(choices=["created", "duplicate", "error"]),
        "id": serializers.UUIDField(required=False),
        "error": serializers.CharField(required=False),
        "field": serializers.CharField(required=False),
    }
    return type(name, (serializers.Serializer,), {"__doc__": doc, **fields})


BatchItemResultSerializer = _add_result_serializer(
    "BatchItemResultSerializer", "One batch item's outcome, in request order.", "index"
)


class BatchResultSerializer(serializers.Serializer):
    """Response of a batch create."""

    results = BatchItemResultSerializer(many=True)


class MemoryUpdateSerializer(StrictSerializer):
    """Body of ``PATCH .../memories/<id>/``: any subset of the editable fields."""

    content = StrictCharField(required=False)
    metadata = StrictDictField(required=False, allow_null=True)
    categories = serializers.ListField(
        child=StrictCharField(), required=False, allow_null=True
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    state = serializers.ChoiceField(choices=MEMORY_EDITABLE_STATES, required=False)
    immutable = StrictBooleanField(required=False)
    expected_version = StrictIntegerField(
        required=False,
        min_value=1,
        help_text="Optimistic locking: 409 unless the memory is at this version.",
    )


class MemoryReplaceSerializer(MemoryUpdateSerializer):
    """Body of ``PUT``: ``content`` required; omitted metadata, categories and
    expiry are reset to empty (state and immutability stay unless given)."""

    content = StrictCharField()


class MemoryListQuerySerializer(serializers.Serializer):
    """Query parameters of ``GET .../memories/``."""

    user_id = QueryCharField(required=False)
    agent_id = QueryCharField(required=False)
    app_id = QueryCharField(required=False)
    run_id = QueryCharField(required=False)
    category = QueryCharField(required=False, help_text="Has this category.")
    state = serializers.ChoiceField(
        choices=MEMORY_STATE_FILTERS, required=False, default="active"
    )
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


class MemoryQuerySerializer(StrictSerializer):
    """Body of ``POST .../memories/query/``: a filter object and a state."""

    filters = StrictDictField(required=False, allow_null=True, help_text=FILTERS_HELP)
    state = serializers.ChoiceField(
        choices=MEMORY_STATE_FILTERS, required=False, default="active"
    )


class BulkDeleteSerializer(StrictSerializer):
    """Body of ``POST .../memories/delete/``."""

    filters = StrictDictField(
        help_text=FILTERS_HELP + " At least one condition is required."
    )
    hard = StrictBooleanField(
        required=False,
        default=False,
        help_text="Erase rows and history instead of marking them deleted.",
    )


class DeletedCountSerializer(serializers.Serializer):
    """Response of a bulk delete."""

    deleted = serializers.IntegerField()


class DeleteQuerySerializer(serializers.Serializer):
    """Query parameters of ``DELETE .../memories/<id>/``."""

    hard = serializers.BooleanField(
        required=False,
        default=False,
        help_text="true erases the memory and its history for good.",
    )


class SearchSerializer(StrictSerializer):
    """Body of ``POST .../search/``."""

    query = StrictCharField()
    top_k = StrictIntegerField(
        required=False,
        default=10,
        min_value=1,
        max_value=settings.SEARCH_MAX_TOP_K,
    )
    threshold = StrictFloatField(
        required=False, allow_null=True, help_text="Minimum score of a result."
    )
    filters = StrictDictField(required=False, allow_null=True, help_text=FILTERS_HELP)
    mode = serializers.ChoiceField(
        choices=["hybrid", "vector", "keyword"], required=False, default="hybrid"
    )
    ef_search = StrictIntegerField(
        required=False,
        min_value=1,
        max_value=MAX_EF_SEARCH,
        help_text="How deep this search looks in the HNSW index (pgvector's "
        "`hnsw.ef_search`) instead of the server's `MEMORYHUB_HNSW_EF_SEARCH` "
        "(200 by default): higher finds the exact nearest memories more often "
        "and takes longer. Applies where the index is read (a space, or a "
        "user, larger than `MEMORYHUB_SEARCH_EXACT_MAX_ROWS`); smaller scopes "
        "are ranked without it, and a routed search ignores it.",
    )


class SearchResultSerializer(serializers.Serializer):
    """Response of a search."""

    results = ScoredMemorySerializer(many=True)


class HistoryEventSerializer(serializers.Serializer):
    """One ADD / UPDATE / DELETE of a memory, contents decrypted."""

    id = serializers.UUIDField()
    memory_id = serializers.UUIDField()
    event = serializers.ChoiceField(choices=MemoryEvent.Kind.values)
    old_content = serializers.CharField(allow_null=True)
    new_content = serializers.CharField(allow_null=True)
    actor = serializers.CharField()
    surface = serializers.CharField()
    at = serializers.DateTimeField()


class HistorySerializer(serializers.Serializer):
    """Response of the history endpoint, oldest event first."""

    results = HistoryEventSerializer(many=True)


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class LineField(serializers.Field):
    """A 1-based line number, or a place in a file (``memories.jsonl.gz:12``)."""

    def to_representation(self, value):
        return value


class ImportLineResultSerializer(serializers.Serializer):
    """One imported line's (or file unit's) outcome."""

    line = LineField()
    status = serializers.ChoiceField(
        choices=["created", "duplicate", "error", "skipped"]
    )
    id = serializers.UUIDField(required=False)
    error = serializers.CharField(required=False)
    field = serializers.CharField(required=False)
    note = serializers.CharField(required=False)


class ImportResultSerializer(serializers.Serializer):
    """Response of an import."""

    results = ImportLineResultSerializer(many=True)
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    errors = serializers.IntegerField()
    skipped = serializers.IntegerField(required=False)
    format = serializers.CharField(required=False)


IMPORT_FORMATS = ("auto", "memoryhub", "mem0", "openmemory", "mcp")


class ImportQuerySerializer(StrictSerializer):
    """Query of an import: which format the body is."""

    format = serializers.ChoiceField(
        choices=IMPORT_FORMATS,
        required=False,
        help_text="The file's format (JSON Lines bodies default to memoryhub).",
    )


class ExportQuerySerializer(StrictSerializer):
    """Query of an export: MemoryHub's JSON Lines or mem0's export."""

    format = serializers.ChoiceField(
        choices=("memoryhub", "mem0"), required=False, default="memoryhub"
    )


# --- spaces and sharing ---------------------------------------------------------


class SpaceSerializer(serializers.Serializer):
    """A space as the API returns it."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    team = serializers.CharField(source="team.slug", read_only=True)
    slug = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True)
    retention_days = serializers.IntegerField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class SpaceDetailSerializer(SpaceSerializer):
    """A space plus the permissions the caller holds on it."""

    permissions = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="The caller's permissions on the space.",
    )


RETENTION_MAX_DAYS = 365_000


class SpaceCreateSerializer(StrictSerializer):
    """Body of ``POST /spaces/``."""

    team = StrictCharField(help_text="Slug of the team that will own the space.")
    slug = StrictCharField(max_length=64)
    name = StrictCharField(required=False, allow_blank=True, max_length=200)
    description = StrictCharField(required=False, allow_blank=True)
    retention_days = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=RETENTION_MAX_DAYS,
        help_text="New memories expire this many days after creation.",
    )


class SpaceUpdateSerializer(StrictSerializer):
    """Body of ``PATCH /spaces/<slug>/``."""

    name = StrictCharField(required=False, min_length=1, max_length=200)
    description = StrictCharField(required=False, allow_blank=True)
    retention_days = StrictIntegerField(
        required=False, allow_null=True, min_value=1, max_value=RETENTION_MAX_DAYS
    )


PERMISSION_CHOICES = [
    "view_space",
    "add_memory",
    "change_memory",
    "delete_memory",
    "manage_space",
]


class ShareSerializer(StrictSerializer):
    """Body of ``POST .../share/``: exactly one of ``user`` or ``team``."""

    user = StrictCharField(required=False, help_text="Username to share with.")
    team = StrictCharField(required=False, help_text="Team slug to share with.")
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=PERMISSION_CHOICES),
        allow_empty=False,
        help_text="Permissions to grant; view_space is always included.",
    )

    def validate(self, attrs):
        """Exactly one principal."""
        if ("user" in attrs) == ("team" in attrs):
            raise serializers.ValidationError(
                "name exactly one of 'user' (a username) or 'team' (a team slug)"
            )
        return attrs


class UnshareSerializer(ShareSerializer):
    """Body of ``POST .../unshare/``; omitting ``permissions`` withdraws all."""

    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=PERMISSION_CHOICES),
        required=False,
        allow_empty=False,
        help_text="Permissions to withdraw (all when omitted; view_space "
        "withdraws all).",
    )


class GrantSerializer(serializers.Serializer):
    """One principal's explicit permissions on a space."""

    user = serializers.CharField(required=False)
    team = serializers.CharField(required=False)
    group = serializers.CharField(required=False)
    permissions = serializers.ListField(child=serializers.CharField())


class GrantListSerializer(serializers.Serializer):
    """Response of ``GET .../permissions/``."""

    results = GrantSerializer(many=True)


# --- audit -------------------------------------------------------------------------


class AccessEventSerializer(serializers.Serializer):
    """One audit row: who did what to which memories, through which surface."""

    id = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor = serializers.CharField()
    action = serializers.CharField()
    surface = serializers.CharField()
    backend = serializers.CharField()
    team_id = serializers.IntegerField(source="team_pk", allow_null=True)
    space = serializers.CharField(source="space_slug")
    memory_ids = serializers.ListField(child=serializers.UUIDField())
    count = serializers.IntegerField()
    detail = serializers.DictField(child=serializers.JSONField())


class AuditQuerySerializer(serializers.Serializer):
    """Query parameters of ``GET /audit/``."""

    team = QueryCharField(required=False, help_text="Team slug.")
    space = QueryCharField(required=False, help_text="Space slug.")
    action = QueryCharField(
        required=False, help_text="e.g. memory.add, memory.search, space.share."
    )
    since = serializers.DateTimeField(required=False)
