"""Lookups the accounts commands (and the apps above) share."""

from django.core.management.base import CommandError

from accounts.models import Team


def team_by_slug(slug: str):
    """The team called ``slug`` or a ``CommandError`` that says how to list teams."""
    team = Team.objects.filter(slug=slug).first()
    if team is None:
        known = ", ".join(Team.objects.values_list("slug", flat=True)[:20]) or "none"
        raise CommandError(
            f"no team {slug!r} (teams: {known}); create it with "
            f"`manage.py createteam {slug}`"
        )
    return team
