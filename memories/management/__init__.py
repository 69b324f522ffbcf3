"""Lookups the memories commands (and the apps above) share."""

from django.core.management.base import CommandError

from memories.models import Space


def space_by_slug(team, slug: str):
    """The live space ``slug`` of ``team`` or a ``CommandError``."""
    space = Space.objects.filter(team=team, slug=slug, shredded_at__isnull=True).first()
    if space is None:
        known = (
            ", ".join(
                Space.objects.filter(team=team, shredded_at__isnull=True).values_list(
                    "slug", flat=True
                )[:20]
            )
            or "none"
        )
        raise CommandError(
            f"team {team.slug!r} has no space {slug!r} (spaces: {known}); create it "
            f"with `manage.py createspace --team {team.slug} {slug}`"
        )
    return space
