"""The access audit: one append-only row per read, search, write or delete."""

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models


class AccessEvent(models.Model):
    """Append-only audit of every read, search, write and delete.

    No foreign keys: the record must outlive erased memories, shredded spaces
    and deleted users. A database trigger rejects UPDATE and DELETE.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.CharField(max_length=200)  # "user:<id>:<username>" / "key:<prefix>"
    user_pk = models.BigIntegerField(null=True, blank=True)
    api_key_pk = models.BigIntegerField(null=True, blank=True)
    # Indexed by ``accessevent_team_at`` (a team's rows in time order).
    team_pk = models.BigIntegerField(null=True, blank=True)
    space_pk = models.BigIntegerField(null=True, blank=True, db_index=True)
    space_slug = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=32)
    surface = models.CharField(max_length=16)
    backend = models.CharField(max_length=64, default="local")
    memory_ids = ArrayField(models.UUIDField(), default=list, blank=True)
    count = models.PositiveIntegerField(default=0)
    detail = models.JSONField(default=dict, blank=True)  # never plaintext
    # Milliseconds from the start of the request to this row (null outside
    # a request): the activity page's latency per day.
    duration_ms = models.FloatField(null=True, blank=True)

    class Meta:
        # The table keeps the name it had when the model lived in ``memories``.
        db_table = "memories_accessevent"
        default_permissions = ("view",)
        ordering = ["-at", "-id"]
        indexes = [
            GinIndex(fields=["memory_ids"], name="accessevent_memory_ids"),
            # One action in time order: the local change feed's erasures, the
            # mem0 API's add lookups, the audit API's action filter.
            models.Index(fields=["action", "at", "id"], name="accessevent_action_at"),
            # A team's rows newest first: the activity page's log and charts
            # (a range of one team, not a filter over everyone's rows).
            models.Index(fields=["team_pk", "at"], name="accessevent_team_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor} {self.action}"
