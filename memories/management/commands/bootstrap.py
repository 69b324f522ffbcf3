"""``manage.py bootstrap``: the quickstart's first operator, demo team, space and key.

The operator is an owner of the demo team, so the first sign-in to the team
app (``/``) shows the demo space.

Idempotent: each object is created only when missing, and a secret (the
generated operator password, the API key) is printed only in the run that
created it. Later runs say what exists and how to get a new credential.
"""

import os
import secrets

from django.db import transaction

from accounts import services as account_services
from accounts.actors import SYSTEM
from accounts.models import ApiKey, Membership, Role, Team, User
from memories import services as memory_services
from memories.models import Space
from memoryhub.commands import ServiceCommand

TEAM_SLUG = "demo"
SPACE_SLUG = "default"
KEY_NAME = "bootstrap"
PASSWORD_ENV = "MEMORYHUB_ADMIN_PASSWORD"  # noqa: S105 (a variable name)


class Command(ServiceCommand):
    help = (
        "Create the first operator (superuser), the demo team with its space "
        "'default' and one API key, each only if missing. Secrets are printed once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--username", default="admin", help="operator username (default: admin)"
        )

    @transaction.atomic
    def handle(self, *args, username: str, **options):
        operator, password = self._operator(username)
        team = self._team(operator)
        self._space(team)
        self._key(team)
        if password:
            # Last, so it is the part of the output a person sees first.
            self.stdout.write(
                self.style.WARNING(
                    f"Operator account '{username}' created. Its password is shown "
                    f"only now:\n    {password}\n"
                    f"  Sign in to the team app at / (or the console at /admin/); "
                    f"change it there or with `manage.py changepassword {username}`."
                )
            )

    def _operator(self, username: str) -> tuple[User, str | None]:
        existing = User.objects.filter(username=username).first()
        if existing is not None:
            self.stdout.write(
                f"Operator account '{username}' exists (new password: "
                f"`manage.py changepassword {username}`)."
            )
            return existing, None
        from_env = os.environ.get(PASSWORD_ENV, "")
        password = from_env or secrets.token_urlsafe(12)
        operator = account_services.user_create(
            username=username, password=password, is_staff=True, is_superuser=True
        )
        if from_env:
            self.stdout.write(
                f"Operator account '{username}' created with the password from "
                f"{PASSWORD_ENV}."
            )
            return operator, None
        return operator, password

    def _team(self, operator: User) -> Team:
        team = Team.objects.filter(slug=TEAM_SLUG).first()
        if team is not None:
            self.stdout.write(f"Team '{TEAM_SLUG}' exists.")
            # The operator signs in to the team app at once and sees the demo
            # space: an owner of the team, even if someone else created it.
            if not Membership.objects.filter(team=team, user=operator).exists():
                account_services.membership_set(
                    team=team, user=operator, role=Role.OWNER
                )
                self.stdout.write(f"{operator.username} is now an owner of it.")
            return team
        team = account_services.team_create(slug=TEAM_SLUG, name="Demo")
        account_services.membership_set(team=team, user=operator, role=Role.OWNER)
        self.stdout.write(
            f"Team '{TEAM_SLUG}' created ({operator.username} is its owner)."
        )
        return team

    def _space(self, team: Team) -> Space:
        space = Space.objects.filter(
            team=team, slug=SPACE_SLUG, shredded_at__isnull=True
        ).first()
        if space is not None:
            self.stdout.write(f"Space '{team.slug}/{SPACE_SLUG}' exists.")
            return space
        space = memory_services.space_create(
            actor=SYSTEM,
            team=team,
            slug=SPACE_SLUG,
            name="Default",
            description="Created by bootstrap for the quickstart.",
            surface="cli",
        )
        self.stdout.write(f"Space '{team.slug}/{SPACE_SLUG}' created.")
        return space

    def _key(self, team: Team) -> None:
        existing = ApiKey.objects.filter(team=team, name=KEY_NAME).first()
        if existing is not None:
            state = " (revoked)" if existing.revoked_at else ""
            self.stdout.write(
                f"API key '{KEY_NAME}' exists{state}, prefix {existing.prefix}; its "
                "secret was shown only when it was created. New key: "
                f"`manage.py create_api_key --team {team.slug} --name NAME`."
            )
            return
        api_key, secret = account_services.api_key_create(team=team, name=KEY_NAME)
        self.stdout.write(
            self.style.WARNING(
                f"API key '{KEY_NAME}' created for team '{team.slug}' (prefix "
                f"{api_key.prefix}). Its secret is shown only now:\n    {secret}\n"
                f"  Use it as `Authorization: Bearer <key>`."
            )
        )
