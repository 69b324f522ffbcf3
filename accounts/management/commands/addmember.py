"""``manage.py addmember``: give a user a team role (creating the user if needed)."""

from accounts.management import team_by_slug
from accounts.models import Role, User
from accounts.services import membership_set, user_create
from memoryhub.commands import ServiceCommand


class Command(ServiceCommand):
    help = (
        "Give USERNAME a role in a team (creating or changing the membership). "
        "A missing user is created without a password."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--team", required=True, help="team slug")
        parser.add_argument("--role", required=True, choices=Role.values)

    def handle(self, *args, username: str, team: str, role: str, **options):
        team_obj = team_by_slug(team)
        user = User.objects.filter(username=username).first()
        if user is None:
            user = user_create(username=username)
            self.stdout.write(
                f"Created user '{username}' without a password; set one with "
                f"`manage.py changepassword {username}`."
            )
        membership_set(team=team_obj, user=user, role=role)
        self.stdout.write(f"'{username}' is now {role} of team '{team_obj.slug}'.")
