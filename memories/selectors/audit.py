"""The access audit as a team sees it: the rows of the spaces it may view."""

from datetime import UTC

from django.db.models import Aggregate, Count, FloatField, Q, QuerySet
from django.db.models.functions import TruncDate

from accounts.actors import Actor
from accounts.selectors import teams_administered_by
from audit.models import AccessEvent
from memories import permissions
from memories.models import Memory, MemoryState


def access_events_for(
    *,
    actor: Actor,
    team_slug: str | None = None,
    space_slug: str | None = None,
    action: str | None = None,
    since=None,
) -> QuerySet[AccessEvent]:
    """Audit rows of the teams ``actor`` administers, optionally narrowed."""
    teams = teams_administered_by(actor)
    if team_slug is not None:
        teams = teams.filter(slug=team_slug)
    events = AccessEvent.objects.filter(team_pk__in=teams.values("pk"))
    if space_slug is not None:
        events = events.filter(space_slug=space_slug)
    if action is not None:
        events = events.filter(action=action)
    if since is not None:
        events = events.filter(at__gte=since)
    return events


class Percentile(Aggregate):
    """PostgreSQL's ``percentile_cont(p) WITHIN GROUP (ORDER BY x)``."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float, **extra):
        super().__init__(expression, fraction=float(fraction), **extra)


def team_activity(
    *, actor: Actor, team, filters: dict | None = None
) -> QuerySet[AccessEvent]:
    """The audit rows of ``team``'s spaces that ``actor`` may view (newest
    first); rows of no space (key changes) only for its owners and admins.

    ``filters``: ``actor`` (label, exact), ``action``, ``surface``,
    ``space`` (slug), ``memory_id``, ``since`` / ``until`` (datetimes).
    """
    visible = permissions.spaces_visible_to(actor).filter(team=team)
    scope = Q(space_pk__in=visible.values("pk"))
    if teams_administered_by(actor).filter(pk=team.pk).exists():
        scope |= Q(space_pk__isnull=True)
    events = AccessEvent.objects.filter(scope, team_pk=team.pk)
    filters = filters or {}
    for key, lookup in (
        ("actor", "actor"),
        ("action", "action"),
        ("surface", "surface"),
        ("space", "space_slug"),
        ("since", "at__gte"),
        ("until", "at__lt"),
    ):
        if filters.get(key) not in (None, ""):
            events = events.filter(**{lookup: filters[key]})
    if filters.get("memory_id"):
        events = events.filter(memory_ids__contains=[filters["memory_id"]])
    return events.order_by("-at", "-id")


def memory_audit_trail(
    *, actor: Actor, space, memory_id, limit: int = 50
) -> list[AccessEvent]:
    """Who read or changed one memory, through which surface (newest first)."""
    permissions.require_perm(actor, space, permissions.VIEW)
    return list(
        AccessEvent.objects.filter(
            space_pk=space.pk, memory_ids__contains=[memory_id]
        ).order_by("-at", "-id")[:limit]
    )


SEARCH_ACTIONS = ("memory.search",)


def team_usage(*, actor: Actor, team, since) -> dict:
    """Per day since ``since`` over ``team``'s spaces that ``actor`` may view:
    requests, searches, p50/p95 request duration (ms), memories added, and
    the live memories at the end of each day. Three aggregate queries."""
    visible = permissions.spaces_visible_to(actor).filter(team=team)
    events = (
        AccessEvent.objects.filter(
            team_pk=team.pk, space_pk__in=visible.values("pk"), at__gte=since
        )
        .annotate(day=TruncDate("at", tzinfo=UTC))
        .values("day")
        .annotate(
            requests=Count("id"),
            searches=Count("id", filter=Q(action__in=SEARCH_ACTIONS)),
            p50=Percentile("duration_ms", 0.5),
            p95=Percentile("duration_ms", 0.95),
        )
        .order_by("day")
    )
    live = Memory.objects.filter(space__in=visible).exclude(state=MemoryState.DELETED)
    before = live.filter(created_at__lt=since).count()
    added = (
        live.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day")
        .annotate(n=Count("id"))
        .order_by("day")
    )
    return {
        "events": {row["day"]: row for row in events},
        "added": {row["day"]: row["n"] for row in added},
        "before": before,
    }
