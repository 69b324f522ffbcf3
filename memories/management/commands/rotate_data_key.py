"""``manage.py rotate_data_key``: new data key for a space, re-encrypt its rows.

Without ``--wait`` the rows are re-encrypted in the background by a Celery
worker (batches of ``MEMORYHUB_REENCRYPT_BATCH_SIZE``); with ``--wait`` this
command runs the batches itself until every row uses the new key and the old
keys are destroyed. Both may run at once: batches lock rows with SKIP LOCKED.
"""

import time

from accounts.actors import SYSTEM
from accounts.management import team_by_slug
from memories.encryption import keyring
from memories.encryption.rotation import space_data_key_rotate, space_reencrypt_batch
from memories.management import space_by_slug
from memories.models import Memory, MemoryEvent, SpaceKey
from memoryhub.commands import ServiceCommand


class Command(ServiceCommand):
    help = "Rotate a space's data key and re-encrypt its memories and history."

    def add_arguments(self, parser):
        parser.add_argument("space", help="space slug")
        parser.add_argument("--team", required=True, help="team slug")
        parser.add_argument(
            "--wait",
            action="store_true",
            help="re-encrypt here, batch by batch, until done",
        )

    def handle(self, *args, space: str, team: str, wait: bool, **options):
        space_obj = space_by_slug(team_by_slug(team), space)
        new_key = space_data_key_rotate(actor=SYSTEM, space=space_obj, surface="cli")
        self.stdout.write(
            f"Space '{team}/{space}' now encrypts with data key v{new_key.version}."
        )
        if not wait:
            self.stdout.write(
                "Older rows are re-encrypted in the background by a Celery worker "
                "(`make run` starts one); reads keep working meanwhile. Use --wait "
                "to do it here."
            )
            return
        total = 0
        while True:
            done = space_reencrypt_batch(space_pk=space_obj.pk)
            total += done
            if done:
                self.stdout.write(f"  re-encrypted {total} row(s)...")
                continue
            if not self._pending(space_obj):
                break
            # Rows locked by a concurrent batch (a worker): let it finish.
            time.sleep(0.5)
        self.stdout.write(
            f"Done: {total} row(s) re-encrypted here; every row uses data key "
            f"v{keyring.active_version(space_obj)} and the older keys are destroyed."
        )

    @staticmethod
    def _pending(space) -> bool:
        version = keyring.active_version(space)
        return (
            Memory.objects.filter(space=space).exclude(key_version=version).exists()
            or MemoryEvent.objects.filter(memory__space=space)
            .exclude(key_version=version)
            .exists()
            or SpaceKey.objects.filter(space=space).exclude(version=version).exists()
        )
