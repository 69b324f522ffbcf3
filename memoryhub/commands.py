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
