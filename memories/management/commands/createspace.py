"""``manage.py createspace``: a new space in a team, with fresh encryption keys."""

from accounts.actors import SYSTEM
from accounts.management import team_by_slug
from memories.services.spaces import space_create
from memoryhub.commands import ServiceCommand


class Command(ServiceCommand):
    help = "Create a space in a team."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="lowercase letters, digits and hyphens")
        parser.add_argument("--team", required=True, help="team slug")
        parser.add_argument("--name", default="", help="display name (default: slug)")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--retention-days",
            type=int,
            metavar="N",
            help="memories expire N days after creation (default: never)",
        )

    def handle(self, *args, slug: str, team: str, **options):
        space = space_create(
            actor=SYSTEM,
            team=team_by_slug(team),
            slug=slug,
            name=options["name"],
            description=options["description"],
            retention_days=options["retention_days"],
            surface="cli",
        )
        retention = (
            f"memories expire after {space.retention_days} days"
            if space.retention_days
            else "no expiry"
        )
        self.stdout.write(f"Created space '{team}/{space.slug}' ({retention}).")
