"""Serializers of the routing API: backends (secrets write-only), rules, outbox."""

from rest_framework import serializers

from memoryhub.api.serializers import (
    StrictBooleanField,
    StrictCharField,
    StrictDictField,
    StrictFloatField,
    StrictIntegerField,
    StrictSerializer,
)
from routing.models import (
    Backend,
    OutboxEntry,
    RoutingRule,
    SyncJob,
    SyncRun,
    Webhook,
    WebhookDelivery,
)
from routing.services import RULE_FIELDS
from routing.sync.selectors import next_run_at


class BackendSerializer(serializers.ModelSerializer):
    """A backend as operators see it: settings and health, never secrets."""

    has_secrets = serializers.SerializerMethodField()

    class Meta:
        model = Backend
        fields = [
            "name",
            "kind",
            "enabled",
            "config",
            "has_secrets",
            "allows_plaintext",
            "timeout_seconds",
            "max_retries",
            "latency_ewma_ms",
            "error_rate",
            "circuit_state",
            "consecutive_failures",
            "last_check_at",
            "last_error",
            "created_at",
            "updated_at",
        ]

    def get_has_secrets(self, obj) -> bool:
        """Whether secrets are stored (their values are never returned)."""
        return bool(obj.secrets_sealed)


class BackendWriteSerializer(StrictSerializer):
    """Create/update body of a backend; ``secrets`` is write-only."""

    name = serializers.SlugField(max_length=64, required=False)
    kind = StrictCharField(max_length=32, required=False)
    enabled = StrictBooleanField(required=False)
    config = StrictDictField(required=False)
    secrets = StrictDictField(required=False)
    allows_plaintext = StrictBooleanField(required=False)
    timeout_seconds = StrictFloatField(required=False)
    max_retries = StrictIntegerField(required=False)


class RuleSerializer(serializers.ModelSerializer):
    """A routing rule."""

    class Meta:
        model = RoutingRule
        # Everything an operator may set (the service's list), named and dated.
        fields = ["name", *RULE_FIELDS, "created_at", "updated_at"]


class RuleWriteSerializer(StrictSerializer):
    """Create/update body of a rule (validated again by the service)."""

    name = serializers.SlugField(max_length=64, required=False)
    priority = StrictIntegerField(required=False)
    enabled = StrictBooleanField(required=False)
    match = StrictDictField(required=False)
    write_backends = serializers.ListField(child=StrictCharField(), required=False)
    write_mode = StrictCharField(required=False)
    read_strategy = StrictCharField(required=False)
    read_backends = serializers.ListField(child=StrictCharField(), required=False)
    read_timeout_seconds = StrictFloatField(required=False)
    description = StrictCharField(required=False, allow_blank=True)


class ExplainSerializer(StrictSerializer):
    """A described operation to explain."""

    operation = StrictCharField()
    space = StrictCharField(help_text="team/space")
    user_id = StrictCharField(required=False, default="")
    agent_id = StrictCharField(required=False, default="")
    app_id = StrictCharField(required=False, default="")
    run_id = StrictCharField(required=False, default="")
    categories = serializers.ListField(child=StrictCharField(), required=False)
    metadata = StrictDictField(required=False)


class OutboxEntrySerializer(serializers.ModelSerializer):
    """An outbox entry (ids and state only; never content)."""

    backend = serializers.CharField(source="backend.name")

    class Meta:
        model = OutboxEntry
        fields = [
            "id",
            "memory_id",
            "space_id",
            "backend",
            "op",
            "seq",
            "idempotency_key",
            "state",
            "attempts",
            "next_at",
            "delivered_at",
            "last_error",
            "created_at",
        ]


class RetrySerializer(StrictSerializer):
    """Ids of outbox entries to retry."""

    ids = serializers.ListField(child=StrictIntegerField(), min_length=1)


class SpaceBackendSerializer(serializers.Serializer):
    """One backend serving a space, as teams see it (read-only)."""

    name = serializers.CharField()
    kind = serializers.CharField()
    enabled = serializers.BooleanField()
    operations = serializers.ListField(child=serializers.CharField())
    circuit = serializers.CharField()


class ChangesRequestSerializer(StrictSerializer):
    """Where to continue a backend's change feed (in the body: cursors are long)."""

    cursor = StrictCharField(
        required=False,
        allow_blank=True,
        help_text="The cursor the previous page returned; omit to start over.",
    )
    limit = StrictIntegerField(required=False, default=100, help_text="1-1000")


class ChangeSerializer(serializers.Serializer):
    """One change: ids and content-free details."""

    external_id = serializers.CharField()
    op = serializers.ChoiceField(choices=["upsert", "delete"])
    memory_id = serializers.CharField(allow_null=True)
    detail = serializers.DictField()


class ChangePageSerializer(serializers.Serializer):
    """A page of a backend's changes and the cursor to continue from."""

    backend = serializers.CharField()
    changes = ChangeSerializer(many=True)
    cursor = serializers.CharField()
    more = serializers.BooleanField()


# --- sync jobs ----------------------------------------------------------------


class SyncRunSerializer(serializers.ModelSerializer):
    """A run: trigger, state, counts, cursors' progress, errors (never content)."""

    class Meta:
        model = SyncRun
        fields = [
            "id",
            "job",
            "trigger",
            "state",
            "phase",
            "started_at",
            "finished_at",
            "duration_ms",
            "seen",
            "created",
            "updated",
            "deleted",
            "unchanged",
            "conflicts",
            "errors",
            "pages",
            "tasks",
            "total",
            "error_items",
            "message",
            "cancel_requested",
        ]


class SyncJobSerializer(serializers.ModelSerializer):
    """A sync job with its schedule and the state of its source."""

    space = serializers.SerializerMethodField()
    backend = serializers.SlugRelatedField(slug_field="name", read_only=True)
    next_run_at = serializers.SerializerMethodField()

    class Meta:
        model = SyncJob
        fields = [
            "id",
            "name",
            "space",
            "backend",
            "direction",
            "schedule",
            "enabled",
            "filter",
            "propagate_deletes",
            "conflict_policy",
            "batch_size",
            "rate_limit",
            "failures",
            "backoff_until",
            "last_error",
            "next_run_at",
            "created_at",
            "updated_at",
        ]

    def get_space(self, obj) -> str:
        """``<team>/<space>``."""
        return f"{obj.space.team.slug}/{obj.space.slug}"

    def get_next_run_at(self, obj) -> str | None:
        """When beat starts the next scheduled run (None: on demand only)."""
        moment = next_run_at(obj)
        return moment.isoformat() if moment else None


class SyncJobWriteSerializer(StrictSerializer):
    """Create / change body of a sync job (the services validate each value)."""

    name = StrictCharField(max_length=100, required=False)
    space = StrictCharField(max_length=200, required=False, help_text="<team>/<space>")
    backend = StrictCharField(max_length=64, required=False)
    direction = StrictCharField(max_length=8, required=False)
    schedule = StrictDictField(
        required=False,
        help_text='{"every": <seconds>}, {"crontab": "*/15 * * * *"} or {}',
    )
    enabled = StrictBooleanField(required=False)
    filter = StrictDictField(required=False)
    propagate_deletes = StrictBooleanField(required=False)
    conflict_policy = StrictCharField(max_length=8, required=False)
    batch_size = StrictIntegerField(required=False)
    rate_limit = StrictIntegerField(required=False)
    reset_cursors = StrictBooleanField(
        required=False,
        help_text="Change only: read both sides from the start on the next run.",
    )


# --- webhooks -----------------------------------------------------------------


class WebhookSerializer(serializers.ModelSerializer):
    """A webhook (its secret is returned once, at creation, as ``secret``)."""

    class Meta:
        model = Webhook
        fields = [
            "id",
            "name",
            "url",
            "events",
            "enabled",
            "include_content",
            "created_at",
            "updated_at",
        ]


class WebhookCreatedSerializer(WebhookSerializer):
    """The answer to a creation: the webhook and its signing secret, once."""

    secret = serializers.CharField(read_only=True)

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class WebhookWriteSerializer(StrictSerializer):
    """Create / change body of a webhook (the service checks the URL)."""

    name = StrictCharField(max_length=100, required=False)
    url = StrictCharField(max_length=2000, required=False)
    events = serializers.ListField(
        child=StrictCharField(max_length=32), required=False, allow_empty=False
    )
    enabled = StrictBooleanField(required=False)
    include_content = StrictBooleanField(required=False)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    """One event sent (or to send) to a webhook: ids and status only."""

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event",
            "memory_id",
            "version",
            "seq",
            "at",
            "state",
            "attempts",
            "next_at",
            "delivered_at",
            "response_status",
            "last_error",
        ]


class DeliveryQuerySerializer(StrictSerializer):
    state = StrictCharField(required=False)


class WebhookRetrySerializer(StrictSerializer):
    """Which deliveries to send again (none: every dead letter)."""

    ids = serializers.ListField(
        child=StrictIntegerField(), required=False, max_length=1000
    )
