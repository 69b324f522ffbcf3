"""Memories: spaces and their data keys, memories, history and access audit.

Content is stored only as sealed ciphertext (see :mod:`memoryhub.crypto`);
``__str__`` never returns plaintext, so nothing in the admin or logs shows it.
"""

import uuid
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase
from pgvector.django import HnswIndex, VectorField

EMBEDDING_DIMENSIONS = 384


class Space(models.Model):
    """A team's namespace of memories; object permissions attach here."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey(  # indexed by space_team_slug_unique
        "accounts.Team", on_delete=models.PROTECT, related_name="spaces", db_index=False
    )
    slug = models.SlugField(max_length=64)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Memories expire this many days after creation.",
    )
    # The spaces an API key is limited to (``api_key.spaces``; none listed:
    # every space its team may see). Declared on this side so that accounts,
    # the layer below, names no space; the table keeps the name it had when
    # ApiKey declared the relation.
    api_keys = models.ManyToManyField(
        "accounts.ApiKey",
        blank=True,
        related_name="spaces",
        db_table="accounts_apikey_spaces",
    )
    # The keyed-HMAC key for dedupe and the blind index, wrapped by a master
    # key. It survives data-key rotation (so MACs stay stable) and is destroyed
    # with the data keys when the space is shredded.
    index_key_wrapped = models.BinaryField(null=True, editable=False)
    shredded_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["team__slug", "slug"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "slug"], name="space_team_slug_unique"
            ),
        ]
        permissions = [
            ("add_memory", "Can add memories to the space"),
            ("change_memory", "Can change memories in the space"),
            ("delete_memory", "Can delete memories in the space"),
            ("manage_space", "Can manage the space, its sharing and keys"),
        ]

    def __str__(self) -> str:
        # team/space, as people name it (lists select the team with it).
        return f"{self.team.slug}/{self.slug}"


class SpaceUserObjectPermission(UserObjectPermissionBase):
    """Direct-FK guardian permission rows for users on spaces (fast joins)."""

    # Indexed by the (user, permission, content_object) unique constraint.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, db_index=False
    )
    content_object = models.ForeignKey(Space, on_delete=models.CASCADE)


class SpaceGroupObjectPermission(GroupObjectPermissionBase):
    """Direct-FK guardian permission rows for teams (their groups) on spaces."""

    # Indexed by the (group, permission, content_object) unique constraint.
    group = models.ForeignKey(Group, on_delete=models.CASCADE, db_index=False)
    content_object = models.ForeignKey(Space, on_delete=models.CASCADE)


class SpaceKey(models.Model):
    """A versioned data key (DEK) of a space, wrapped by a master key."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"  # encrypts new values
        RETIRED = "retired", "Retired"  # decrypts until re-encryption finishes

    space = models.ForeignKey(  # indexed by spacekey_version_unique
        Space, on_delete=models.CASCADE, related_name="keys", db_index=False
    )
    version = models.PositiveIntegerField()
    wrapped_key = models.BinaryField(editable=False)
    master_key_id = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["space", "version"], name="spacekey_version_unique"
            ),
            models.UniqueConstraint(
                fields=["space"],
                condition=Q(state="active"),
                name="spacekey_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"space {self.space_id} key v{self.version} ({self.state})"


class MemoryState(models.TextChoices):
    """Lifecycle of a memory."""

    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"
    DELETED = "deleted", "Deleted"


class Memory(models.Model):
    """One memory: sealed content plus the clear fields search filters on."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey(  # indexed by memory_space_user and others
        Space, on_delete=models.CASCADE, related_name="memories", db_index=False
    )
    content = models.BinaryField(editable=False)  # sealed, never plaintext
    content_mac = models.BinaryField(editable=False)  # keyed HMAC for dedupe
    keyword_index = SearchVectorField(null=True, editable=False)  # blind tokens
    embedding = VectorField(dimensions=EMBEDDING_DIMENSIONS, null=True)
    user_id = models.CharField(max_length=255, blank=True, default="")
    agent_id = models.CharField(max_length=255, blank=True, default="")
    app_id = models.CharField(max_length=255, blank=True, default="")
    run_id = models.CharField(max_length=255, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    categories = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    state = models.CharField(
        max_length=16, choices=MemoryState.choices, default=MemoryState.ACTIVE
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    immutable = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)
    key_version = models.PositiveIntegerField(default=1)  # DEK that sealed content
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        default_permissions = ()  # access is decided per space, see Space.Meta
        verbose_name_plural = "memories"
        ordering = ["-created_at", "-id"]
        indexes = [
            HnswIndex(
                name="memory_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            GinIndex(fields=["metadata"], name="memory_metadata_gin"),
            GinIndex(fields=["categories"], name="memory_categories_gin"),
            GinIndex(fields=["keyword_index"], name="memory_keyword_gin"),
            models.Index(fields=["space", "user_id"], name="memory_space_user"),
            # A search of a space's or a user's rows reads their binary
            # codes from memory_space_codes, a covering index on the same
            # keys that migration 0016 builds (memories.search_index), not
            # one heap page per row: memories.search._scan_statement.
            models.Index(fields=["space", "-created_at"], name="memory_space_created"),
            models.Index(fields=["space", "key_version"], name="memory_space_keyver"),
            # The local change feed pages through rows in this order.
            models.Index(fields=["updated_at", "id"], name="memory_updated_id"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in MemoryState]),
                name="memory_state_valid",
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1), name="memory_version_positive"
            ),
            # Dedupe: one active copy of the same content per space and scope.
            models.UniqueConstraint(
                fields=[
                    "space",
                    "content_mac",
                    "user_id",
                    "agent_id",
                    "app_id",
                    "run_id",
                ],
                condition=Q(state="active"),
                name="memory_active_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"memory {self.id}"


class MemoryEvent(models.Model):
    """History: one ADD / UPDATE / DELETE of a memory, contents sealed."""

    class Kind(models.TextChoices):
        ADD = "ADD", "Add"
        UPDATE = "UPDATE", "Update"
        DELETE = "DELETE", "Delete"
        # A sync conflict MemoryHub's version won: old_content holds the
        # backend's version that lost (routing.sync).
        CONFLICT = "CONFLICT", "Conflict (the other side's version lost)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    memory = models.ForeignKey(  # indexed by memoryevent_memory_at
        Memory, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    event = models.CharField(max_length=8, choices=Kind.choices)
    old_content = models.BinaryField(null=True, editable=False)
    new_content = models.BinaryField(null=True, editable=False)
    key_version = models.PositiveIntegerField(default=1)
    actor = models.CharField(max_length=200)  # "user:<id>" or "key:<prefix>"
    surface = models.CharField(max_length=16, default="api")
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        default_permissions = ("view",)
        ordering = ["at"]
        indexes = [models.Index(fields=["memory", "at"], name="memoryevent_memory_at")]

    def __str__(self) -> str:
        return f"{self.event} {self.memory_id}"


def expired_q(now: datetime | None = None) -> Q:
    """Memories whose expiry has passed."""
    return Q(expires_at__isnull=False, expires_at__lte=now or timezone.now())


class ImportJob(models.Model):
    """A JSON Lines upload imported in the background (the team app).

    The upload is kept sealed with the space's data key until the job is done
    (then dropped); the per-line results hold line numbers, statuses, memory
    ids and error messages — never content.
    """

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    # Indexed by ``importjob_space_recent`` (a space's jobs, newest first).
    space = models.ForeignKey(
        Space, on_delete=models.CASCADE, related_name="imports", db_index=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    filename = models.CharField(max_length=255, blank=True)
    # memories.services.formats: memoryhub | mem0 | openmemory | mcp
    format = models.CharField(max_length=16, default="memoryhub")
    state = models.CharField(max_length=16, choices=State, default=State.QUEUED)
    total_lines = models.PositiveIntegerField(default=0)
    processed_lines = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=list, blank=True)
    failure = models.CharField(max_length=500, blank=True)
    payload = models.BinaryField(null=True, editable=False)  # sealed upload
    key_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["space", "-created_at"], name="importjob_space_recent")
        ]

    def __str__(self) -> str:
        return f"import {self.pk} into {self.space_id} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in (self.State.SUCCEEDED, self.State.FAILED)

    @property
    def percent(self) -> int:
        if self.finished:
            return 100
        return (
            int(100 * self.processed_lines / self.total_lines)
            if self.total_lines
            else 0
        )


class ExtractionSettings(models.Model):
    """How a space extracts memories from conversations (memories.extraction).

    ``categories`` are the space's own, each ``{"name", "description"}``: the
    model files every extracted memory under those that fit. ``instructions``
    is what the team tells the model to keep and never to keep; it is
    configuration a space manager writes, not memory content.
    """

    space = models.OneToOneField(
        Space, on_delete=models.CASCADE, primary_key=True, related_name="extraction"
    )
    infer_by_default = models.BooleanField(
        default=False,
        help_text="Extract when a client's add leaves `infer` out.",
    )
    instructions = models.TextField(blank=True, max_length=4000)
    categories = models.JSONField(default=list, blank=True)
    max_memories_per_subject = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="After an extraction, archive the oldest active memories of "
        "its subject beyond this many.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"extraction settings of space {self.space_id}"


class TeamModel(models.Model):
    """An operator's choice of extraction model for one team (overrides the
    ``MEMORYHUB_LLM_*`` environment); the API key is sealed with the master key."""

    team = models.OneToOneField(
        "accounts.Team", on_delete=models.CASCADE, related_name="llm"
    )
    url = models.URLField(
        max_length=500, help_text="OpenAI-compatible API base, e.g. https://…/v1"
    )
    model = models.CharField(max_length=200)
    api_key_sealed = models.BinaryField(null=True, editable=False)
    temperature = models.FloatField(default=0.0)
    timeout_seconds = models.FloatField(default=30.0)
    max_tokens = models.PositiveIntegerField(default=1024)
    allows_content = models.BooleanField(
        default=False,
        help_text="Memory content may be sent to this model (it is what "
        "extraction does). Off: extraction is refused with a message.",
    )
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "team model"
        constraints = [
            models.CheckConstraint(
                condition=Q(temperature__gte=0, temperature__lte=2),
                name="teammodel_temperature_range",
            ),
            models.CheckConstraint(
                condition=Q(timeout_seconds__gt=0), name="teammodel_timeout_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"model {self.model} for team {self.team_id}"


class ExtractionEvent(models.Model):
    """One extraction request (an ``infer`` add): its state and results.

    The messages are kept sealed with the space's data key until the run
    reads them, then erased; ``results`` hold memory ids, the event applied
    and the history row it wrote — never content (the text shown with an
    event is decrypted from that history when it is read).
    """

    class State(models.TextChoices):
        PENDING = "PENDING", "Pending"
        RUNNING = "RUNNING", "Running"
        SUCCEEDED = "SUCCEEDED", "Succeeded"
        FAILED = "FAILED", "Failed"

    id = models.UUIDField(primary_key=True, editable=False)  # time-ordered (v7)
    # Indexed by ``extractionevent_space_recent``.
    space = models.ForeignKey(
        Space, on_delete=models.CASCADE, related_name="extractions", db_index=False
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.CharField(max_length=200)
    surface = models.CharField(max_length=16, default="api")
    state = models.CharField(max_length=16, choices=State, default=State.PENDING)
    scope = models.JSONField(default=dict, blank=True)  # user/agent/app/run ids
    options = models.JSONField(default=dict, blank=True)  # metadata, expiry, …
    payload = models.BinaryField(null=True, editable=False)  # sealed messages
    key_version = models.PositiveIntegerField(default=1)
    message_count = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=list, blank=True)
    failure = models.CharField(max_length=500, blank=True)
    model = models.CharField(max_length=200, blank=True)
    model_calls = models.PositiveIntegerField(default=0)
    model_ms = models.FloatField(default=0)
    usage = models.JSONField(default=dict, blank=True)  # tokens, as reported
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["space", "-created_at"], name="extractionevent_space_recent"
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["PENDING", "RUNNING", "SUCCEEDED", "FAILED"]),
                name="extractionevent_state_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"extraction {self.id} ({self.state})"

    @property
    def finished(self) -> bool:
        return self.state in (self.State.SUCCEEDED, self.State.FAILED)
