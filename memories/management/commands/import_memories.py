"""``manage.py import_memories --team T SPACE FILE [--format F] [--as USER]``: a
migration from a file (MemoryHub, mem0, OpenMemory, the MCP memory server).

As other commands, it acts as the system actor; ``--as`` imports as a person
instead, whose ``add_memory`` permission on the space is checked and who is
named in the memories' history and the audit log.
"""

from pathlib import Path

from django.core.management.base import CommandError

from accounts.actors import SYSTEM, actor_for_user
from accounts.management import team_by_slug
from accounts.models import User
from memories.models import Space
from memories.services.formats import FORMATS
from memories.services.transfer import memories_import_file
from memoryhub.commands import ServiceCommand


class Command(ServiceCommand):
    help = "Import a file of memories into a space, and print each item's result."

    def add_arguments(self, parser):
        parser.add_argument("space", help="the space's slug")
        parser.add_argument("file", type=Path)
        parser.add_argument("--team", required=True, help="team slug")
        parser.add_argument(
            "--format", default="auto", choices=["auto", *FORMATS], help="default: auto"
        )
        parser.add_argument(
            "--as",
            dest="as_user",
            metavar="USERNAME",
            help="import as this person (their permission is checked; default: "
            "the system)",
        )
        parser.add_argument(
            "--quiet", action="store_true", help="print only the totals"
        )

    def handle(self, *args, space: str, file: Path, team: str, **options):
        found = Space.objects.filter(
            team=team_by_slug(team), slug=space, shredded_at__isnull=True
        ).first()
        if found is None:
            raise CommandError(f"no space {team}/{space}")
        actor = SYSTEM
        if options["as_user"]:
            user = User.objects.filter(
                username=options["as_user"], is_active=True
            ).first()
            if user is None:
                raise CommandError(f"no active user {options['as_user']!r}")
            actor = actor_for_user(user)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        outcome = memories_import_file(
            actor=actor,
            space=found,
            data=data,
            format=options["format"],
            surface="cli",
        )
        if not options["quiet"]:
            for entry in outcome["results"]:
                detail = entry.get("id") or entry.get("note") or entry.get("error", "")
                self.stdout.write(f"{entry['line']}\t{entry['status']}\t{detail}")
        self.stdout.write(
            f"Imported {file.name} ({outcome['format']}) into {team}/{space}: "
            f"{outcome['created']} created, {outcome['duplicates']} already there, "
            f"{outcome['skipped']} skipped, {outcome['errors']} errors."
        )
        if outcome["errors"]:
            raise CommandError(f"{outcome['errors']} item(s) could not be imported")
