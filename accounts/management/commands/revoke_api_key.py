"""``manage.py revoke_api_key``: revoke a key by its prefix (or the whole key)."""

from django.core.management.base import CommandError

from accounts.models import ApiKey
from accounts.services import KEY_PREFIX, api_key_revoke, split_key
from memoryhub.commands import ServiceCommand


class Command(ServiceCommand):
    help = "Revoke an API key now. Give its prefix (as listed in the admin) or the key."

    def add_arguments(self, parser):
        parser.add_argument("prefix", help="the key's prefix, or the full mh_... key")

    def handle(self, *args, prefix: str, **options):
        if prefix.startswith(KEY_PREFIX):
            parts = split_key(prefix)
            if parts is None:
                raise CommandError("that does not look like a MemoryHub API key")
            prefix = parts[0]
        api_key = ApiKey.objects.select_related("team").filter(prefix=prefix).first()
        if api_key is None:
            raise CommandError(f"no API key with prefix {prefix!r}")
        already = api_key.revoked_at is not None
        api_key_revoke(api_key=api_key)
        if already:
            self.stdout.write(
                f"API key '{api_key.name}' ({api_key.prefix}) of team "
                f"'{api_key.team.slug}' was already revoked at "
                f"{api_key.revoked_at.isoformat(timespec='seconds')}."
            )
        else:
            self.stdout.write(
                f"Revoked API key '{api_key.name}' ({api_key.prefix}) of team "
                f"'{api_key.team.slug}'."
            )
