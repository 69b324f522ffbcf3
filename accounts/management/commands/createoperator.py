"""``manage.py createoperator``: a staff superuser for the admin console."""

import os
import secrets

from django.core.management.base import CommandError

from accounts.services import user_create
from memoryhub.commands import ServiceCommand


class Command(ServiceCommand):
    help = (
        "Create an operator (staff superuser). Without --password-from-env a "
        "password is generated and printed once, as the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-from-env",
            metavar="VAR",
            help="read the password from environment variable VAR (keeps it out "
            "of the shell history and process list)",
        )

    def handle(self, *args, username: str, email: str, **options):
        variable = options["password_from_env"]
        if variable:
            password = os.environ.get(variable, "")
            if not password:
                raise CommandError(
                    f"environment variable {variable} is not set or empty"
                )
        else:
            password = secrets.token_urlsafe(12)
        user = user_create(
            username=username,
            email=email,
            password=password,
            is_staff=True,
            is_superuser=True,
        )
        self.stdout.write(f"Created operator '{user.username}'.")
        if not variable:
            self.stdout.write("Its password is shown only now:")
            self.stdout.write(password)
