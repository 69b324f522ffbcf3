"""The access audit as a team sees it: the rows of the spaces it may view."""

from django.db.models import QuerySet

from accounts.actors import Actor
from accounts.selectors import teams_administered_by
from audit.models import AccessEvent


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
