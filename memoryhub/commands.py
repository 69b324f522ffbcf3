"""Shared plumbing for management commands.

Commands are thin: they parse arguments, look rows up by slug, call one
service with ``actor=SYSTEM`` and print the outcome. :class:`ServiceCommand`
turns the errors services raise (``ValidationError``, :class:`DomainError`)
into ``CommandError``, which Django prints as one line and exits 1 with, no
traceback (``--traceback`` still shows it).
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from memoryhub.errors import DomainError


class ServiceCommand(BaseCommand):
    """A management command whose service errors become ``CommandError``."""

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        except DomainError as exc:
            raise CommandError(exc.message) from exc


def team_by_slug(slug: str):
    """The team called ``slug`` or a ``CommandError`` that says how to list teams."""
    from accounts.models import Team

    team = Team.objects.filter(slug=slug).first()
    if team is None:
        known = ", ".join(Team.objects.values_list("slug", flat=True)[:20]) or "none"
        raise CommandError(
            f"no team {slug!r} (teams: {known}); create it with "
            f"`manage.py createteam {slug}`"
        )
    return team


def space_by_slug(team, slug: str):
    """The live space ``slug`` of ``team`` or a ``CommandError``."""
    from memories.models import Space

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
