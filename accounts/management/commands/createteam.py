"""``manage.py createteam``: a new team (with its private permission group)."""

from accounts.services import team_create
from memoryhub.commands import ServiceCommand


class Command(ServiceCommand):
    help = "Create a team."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="lowercase letters, digits and hyphens")
        parser.add_argument("--name", default="", help="display name (default: slug)")

    def handle(self, *args, slug: str, name: str, **options):
        team = team_create(slug=slug, name=name)
        self.stdout.write(f"Created team '{team.slug}' ({team.name}).")
