"""Routing: backends, routing rules, the replication outbox and external ids.

Rows here hold ids, names, settings and health figures only. A backend's
secrets (API keys, tokens) are sealed with the master key through
:mod:`memoryhub.crypto` and never shown; outbox rows never hold memory
content — the delivering worker reads it from the canonical store.
"""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class CircuitState(models.TextChoices):
    """Circuit breaker states (see :mod:`routing.breaker`)."""

    CLOSED = "closed", "Closed"
    OPEN = "open", "Open"
    HALF_OPEN = "half_open", "Half-open"


class Backend(models.Model):
    """A memory store MemoryHub routes to: kind, settings, secrets, health."""

    name = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=32)  # a key of routing.backends.registry
    enabled = models.BooleanField(default=True)
    config = models.JSONField(default=dict, blank=True)  # never secrets
    secrets_sealed = models.BinaryField(null=True, editable=False)
    allows_plaintext = models.BooleanField(
        default=False,
        help_text="Only backends that allow plaintext ever receive memory "
        "content or search queries.",
    )
    timeout_seconds = models.FloatField(default=5.0)
    max_retries = models.PositiveSmallIntegerField(default=2)
    # health (written by routing.breaker; several processes may report)
    latency_ewma_ms = models.FloatField(null=True, blank=True)
    error_rate = models.FloatField(default=0.0)
    circuit_state = models.CharField(
        max_length=16, choices=CircuitState.choices, default=CircuitState.CLOSED
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    last_check_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(timeout_seconds__gt=0), name="backend_timeout_positive"
            ),
            models.CheckConstraint(
                condition=Q(circuit_state__in=[s.value for s in CircuitState]),
                name="backend_circuit_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class WriteMode(models.TextChoices):
    """How a rule's extra write targets receive writes."""

    OUTBOX = "outbox", "Through the outbox (Celery worker)"
    SYNC = "sync", "Synchronously after commit (outbox as safety net)"


class RoutingRule(models.Model):
    """Which backends receive writes and serve reads for matching operations.

    ``match`` is a JSON object (see :mod:`routing.matching`); rules are tried
    by ascending ``priority`` and the first match wins. Without any rule,
    everything is local.
    """

    name = models.SlugField(max_length=64, unique=True)
    priority = models.IntegerField(default=100)
    enabled = models.BooleanField(default=True)
    match = models.JSONField(default=dict, blank=True)
    write_backends = ArrayField(
        models.CharField(max_length=64), default=list, blank=True
    )
    write_mode = models.CharField(
        max_length=16, choices=WriteMode.choices, default=WriteMode.OUTBOX
    )
    read_strategy = models.CharField(max_length=16, default="local")
    read_backends = ArrayField(
        models.CharField(max_length=64), default=list, blank=True
    )
    read_timeout_seconds = models.FloatField(default=2.0)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(write_mode__in=[m.value for m in WriteMode]),
                name="routingrule_write_mode_valid",
            ),
            models.CheckConstraint(
                condition=Q(read_timeout_seconds__gt=0),
                name="routingrule_read_timeout_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.priority}:{self.name}"


class RoutingState(models.Model):
    """One row: a version bumped on every backend/rule change (cache stamp)."""

    version = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"routing v{self.version}"


class OutboxOp(models.TextChoices):
    """What a delivery must make true in the target backend."""

    UPSERT = "upsert", "Add or update"
    DELETE = "delete", "Delete"


class OutboxState(models.TextChoices):
    """Lifecycle of an outbox entry."""

    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    DEAD = "dead", "Dead letter"


class OutboxEntry(models.Model):
    """One write to replicate to one backend, created in the write's transaction.

    ``memory_id`` / ``space_id`` are plain ids, not foreign keys: an entry
    must survive the erasure of its memory (the delete still has to reach
    the backend). ``seq`` orders the entries of one memory for one backend.
    """

    memory_id = models.UUIDField()
    space_id = models.BigIntegerField()
    backend = models.ForeignKey(Backend, on_delete=models.CASCADE, related_name="+")
    op = models.CharField(max_length=8, choices=OutboxOp.choices)
    seq = models.PositiveIntegerField()
    # "memory:backend:seq", unique through outbox_memory_seq_unique; no index
    # of its own (every replicated write inserts a row, every delivery
    # rewrites it: each index costs both).
    idempotency_key = models.CharField(max_length=120)
    state = models.CharField(
        max_length=12, choices=OutboxState.choices, default=OutboxState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "outbox entries"
        constraints = [
            models.UniqueConstraint(
                fields=["memory_id", "backend", "seq"], name="outbox_memory_seq_unique"
            ),
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in OutboxState]),
                name="outbox_state_valid",
            ),
            models.CheckConstraint(
                condition=Q(op__in=[o.value for o in OutboxOp]), name="outbox_op_valid"
            ),
        ]
        indexes = [
            # The queue: a pair's pending entries in order (delivery, erasure)
            # and every pending entry (the sweeper scans it: no other rows).
            # Keyed by the pair, so a backlog never makes a pair's lookup
            # scan the others' entries, whatever the statistics say.
            models.Index(
                fields=["memory_id", "backend", "seq"],
                condition=Q(state="pending"),
                name="outbox_pending_pair",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.op} {self.memory_id} -> {self.backend_id} #{self.seq}"


class RefOrigin(models.TextChoices):
    """Who made a copy, and so who keeps it up to date."""

    OUTBOX = "outbox", "Replication (the outbox follows every change)"
    SYNC = "sync", "A sync job (its runs follow changes, by its direction)"


class ExternalRef(models.Model):
    """A memory's id in one backend, and the last outbox seq applied there.

    Updates and deletes of a memory reach the copies the outbox made
    (``origin = outbox``) at once; copies a sync job made or adopted follow
    the job's runs. An erasure reaches every copy.
    """

    memory_id = models.UUIDField()
    space_id = models.BigIntegerField()
    # Indexed by externalref_backend_extid, whose first column it is.
    backend = models.ForeignKey(
        Backend, on_delete=models.CASCADE, related_name="refs", db_index=False
    )
    external_id = models.CharField(max_length=255)
    applied_seq = models.PositiveIntegerField(default=0)
    applied_version = models.PositiveIntegerField(default=0)
    # A database default too: the outbox inserts refs with raw SQL.
    origin = models.CharField(
        max_length=8, choices=RefOrigin.choices, db_default=RefOrigin.OUTBOX
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["memory_id", "backend"], name="externalref_memory_backend"
            ),
            models.UniqueConstraint(
                fields=["backend", "external_id"], name="externalref_backend_extid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.memory_id} @ {self.backend_id}"


class SyncDirection(models.TextChoices):
    """Which way a sync job copies (see :mod:`routing.sync`)."""

    PULL = "pull", "Pull (backend → space)"
    PUSH = "push", "Push (space → backend)"
    BOTH = "both", "Both ways"


class ConflictPolicy(models.TextChoices):
    """Who wins when a memory changed on both sides since the last run."""

    NEWEST = "newest", "The newest change wins"
    HUB = "hub", "MemoryHub wins"
    BACKEND = "backend", "The backend wins"


class SyncJob(models.Model):
    """Keeps a space and a backend in step, on a schedule (:mod:`routing.sync`).

    The schedule is a django-celery-beat ``PeriodicTask`` the services create,
    change and delete with the job. ``pull_cursor`` is the backend's change
    cursor, ``push_cursor`` the space's: both move only with the page they
    close, in the same transaction.
    """

    name = models.CharField(max_length=100)
    space = models.ForeignKey(
        "memories.Space", on_delete=models.CASCADE, related_name="sync_jobs"
    )
    backend = models.ForeignKey(
        Backend, on_delete=models.PROTECT, related_name="sync_jobs"
    )
    direction = models.CharField(max_length=8, choices=SyncDirection.choices)
    schedule = models.JSONField(
        default=dict, blank=True
    )  # {"every": s} | {"crontab": "..."}
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    enabled = models.BooleanField(default=True)
    filter = models.JSONField(default=dict, blank=True)
    propagate_deletes = models.BooleanField(default=False)
    conflict_policy = models.CharField(
        max_length=8, choices=ConflictPolicy.choices, default=ConflictPolicy.NEWEST
    )
    batch_size = models.PositiveIntegerField(default=200)
    # Push: at most this many memories per second (0: as fast as the backend).
    rate_limit = models.PositiveIntegerField(default=0)
    pull_cursor = models.TextField(blank=True)
    push_cursor = models.TextField(blank=True)
    # A failing source backs off: runs before ``backoff_until`` are skipped.
    failures = models.PositiveIntegerField(default=0)
    backoff_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(direction__in=[d.value for d in SyncDirection]),
                name="syncjob_direction_valid",
            ),
            models.CheckConstraint(
                condition=Q(conflict_policy__in=[p.value for p in ConflictPolicy]),
                name="syncjob_conflict_policy_valid",
            ),
            models.CheckConstraint(
                condition=Q(batch_size__gte=1, batch_size__lte=1000),
                name="syncjob_batch_size_range",
            ),
        ]

    def __str__(self) -> str:
        return f"sync job {self.pk} ({self.name})"

    @property
    def actor_name(self) -> str:
        """What history and audit record for the job's writes."""
        return f"sync job {self.pk}"


class SyncTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Manual (admin or command)"
    API = "api", "API"


class SyncRunState(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partly succeeded (some items failed)"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    SKIPPED = "skipped", "Skipped"


SYNC_COUNTS = (
    "seen",
    "created",
    "updated",
    "deleted",
    "unchanged",
    "conflicts",
    "errors",
)


class SyncRun(models.Model):
    """One run of a :class:`SyncJob`: counts, cursors, errors — never content."""

    job = models.ForeignKey(  # indexed by syncrun_job_started
        SyncJob, on_delete=models.CASCADE, related_name="runs", db_index=False
    )
    trigger = models.CharField(max_length=10, choices=SyncTrigger.choices)
    state = models.CharField(
        max_length=10, choices=SyncRunState.choices, default=SyncRunState.RUNNING
    )
    phase = models.CharField(max_length=8, blank=True)  # pull | push, while running
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    seen = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    conflicts = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    pages = models.PositiveIntegerField(default=0)
    tasks = models.PositiveIntegerField(default=0)  # follow-up tasks included
    total = models.PositiveIntegerField(null=True, blank=True)  # push: to send
    cursor_before = models.JSONField(default=dict, blank=True)
    cursor_after = models.JSONField(default=dict, blank=True)
    # [{"item": id, "error": cause}], at most MAX_RUN_ERRORS (never content)
    error_items = models.JSONField(default=list, blank=True)
    message = models.CharField(max_length=500, blank=True)
    cancel_requested = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in SyncRunState]),
                name="syncrun_state_valid",
            ),
            # One run of a job at a time: a second start is a skipped run.
            models.UniqueConstraint(
                fields=["job"], condition=Q(state="running"), name="syncrun_one_running"
            ),
        ]
        indexes = [
            models.Index(fields=["job", "-started_at"], name="syncrun_job_started")
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of job {self.job_id} ({self.state})"

    def counts(self) -> dict:
        return {name: getattr(self, name) for name in SYNC_COUNTS}


WEBHOOK_EVENTS = ("memory.add", "memory.update", "memory.delete")


class Webhook(models.Model):
    """A URL told about a space's memory changes (:mod:`routing.webhooks`).

    The signing secret is sealed with the master key and shown once, when
    the webhook is created. Payloads carry ids, never content, unless
    ``include_content`` was turned on by a person.
    """

    space = models.ForeignKey(
        "memories.Space", on_delete=models.CASCADE, related_name="webhooks"
    )
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=2000)
    events = ArrayField(models.CharField(max_length=16), default=list)
    enabled = models.BooleanField(default=True)
    include_content = models.BooleanField(
        default=False,
        help_text="Send each memory's text in the payload (off: ids only).",
    )
    secret_sealed = models.BinaryField(editable=False)
    created_by = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["space", "name", "id"]

    def __str__(self) -> str:
        return f"webhook {self.pk} ({self.name})"


class WebhookDelivery(models.Model):
    """One event to send to one webhook, created in the write's transaction.

    Ids, the event and the memory's version only; ``seq`` orders the events
    of one memory for one webhook, which are sent in that order.
    """

    webhook = models.ForeignKey(  # indexed by webhookdelivery_pending_pair
        Webhook, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    event_id = models.UUIDField(unique=True)
    memory_id = models.UUIDField()
    event = models.CharField(max_length=16)
    version = models.PositiveIntegerField(default=0)
    seq = models.PositiveIntegerField()
    at = models.DateTimeField()  # when the change happened
    state = models.CharField(
        max_length=12, choices=OutboxState.choices, default=OutboxState.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "memory_id", "seq"],
                name="webhookdelivery_seq_unique",
            ),
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in OutboxState]),
                name="webhookdelivery_state_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["webhook", "memory_id", "seq"],
                condition=Q(state="pending"),
                name="webhookdelivery_pending_pair",
            ),
            models.Index(fields=["webhook", "-at"], name="webhookdelivery_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.memory_id} -> webhook {self.webhook_id}"
