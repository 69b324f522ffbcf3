"""``manage.py rotate_master_key``: rewrap every data key with the primary master key.

Procedure (docs/operations.md): put a new entry first in
``MEMORYHUB_MASTER_KEYS`` (keep the old ones after it), restart, run this,
and drop the old entries once it reports 0 keys left to rewrap.
"""

from memories.encryption.keyring import master_key_rewrap
from memoryhub.commands import ServiceCommand
from memoryhub.crypto.keys import master_keyring


class Command(ServiceCommand):
    help = (
        "Rewrap all space data and index keys with the first (primary) entry of "
        "MEMORYHUB_MASTER_KEYS. Content is not re-encrypted."
    )

    def handle(self, *args, **options):
        ring = master_keyring()
        count = master_key_rewrap()
        self.stdout.write(
            f"Rewrapped {count} key(s) with master key '{ring.primary_id}'."
        )
        others = [key_id for key_id in ring.keys if key_id != ring.primary_id]
        if others:
            self.stdout.write(
                "Every key is now wrapped by the primary master key; the other "
                f"entries ({', '.join(others)}) can be removed from "
                "MEMORYHUB_MASTER_KEYS once every process runs with the new setting."
            )
