"""``manage.py create_api_key``: a new team API key; the last line is its secret."""

from datetime import timedelta

from django.core.management.base import CommandError
from django.utils import timezone

from accounts.management import team_by_slug
from accounts.services import api_key_create
from memories.management import space_by_slug
from memoryhub.commands import ServiceCommand


class Command(ServiceCommand):
    help = (
        "Create an API key for a team. The secret is printed once, as the last "
        "line of output (so `... | tail -n 1` captures it)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--team", required=True, help="team slug")
        parser.add_argument(
            "--space",
            action="append",
            default=[],
            metavar="SLUG",
            help="limit the key to this space of the team (repeatable; default: "
            "every space the team can use)",
        )
        parser.add_argument(
            "--read-only", action="store_true", help="the key may read, not write"
        )
        parser.add_argument("--name", default="cli", help="a label for the key")
        parser.add_argument(
            "--expires-in-days",
            type=int,
            metavar="N",
            help="the key stops working after N days (default: never)",
        )

    def handle(self, *args, **options):
        team = team_by_slug(options["team"])
        spaces = [space_by_slug(team, slug) for slug in options["space"]]
        days = options["expires_in_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-in-days must be at least 1")
        expires_at = timezone.now() + timedelta(days=days) if days else None
        api_key, secret = api_key_create(
            team=team,
            name=options["name"],
            spaces=spaces,
            read_only=options["read_only"],
            expires_at=expires_at,
        )
        scope = ", ".join(s.slug for s in spaces) or "all of the team's spaces"
        self.stdout.write(
            f"Created API key '{api_key.name}' (prefix {api_key.prefix}) for team "
            f"'{team.slug}': {scope}; "
            f"{'read-only' if api_key.read_only else 'read-write'}; expires "
            f"{expires_at.isoformat(timespec='seconds') if expires_at else 'never'}."
        )
        self.stdout.write("The secret is shown only now; store it:")
        self.stdout.write(secret)
