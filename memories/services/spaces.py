"""Space services: create, change and crypto-shred spaces (all writes)."""

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.actors import Actor
from audit.services import access_record
from memories import permissions
from memories.adapter import routing_adapter
from memories.encryption import keyring
from memories.models import Memory, Space
from memories.permissions import require_perm
from memoryhub.errors import Conflict, Forbidden, InvalidInput


@transaction.atomic
def space_create(
    *,
    actor: Actor,
    team,
    slug: str,
    name: str = "",
    description: str = "",
    retention_days: int | None = None,
    surface: str = "api",
) -> Space:
    """Create a space in ``team`` with fresh keys (team owners/admins only)."""

    if not permissions.can_admin_team(actor, team.pk):
        raise Forbidden(
            f"only owners and admins of team {team.slug!r} may create spaces"
        )
    if not slug or slugify(slug) != slug or len(slug) > 64:
        raise InvalidInput(
            "slug must be 1-64 lowercase letters, digits and hyphens", field="slug"
        )
    if retention_days is not None and (
        not isinstance(retention_days, int) or retention_days < 1
    ):
        raise InvalidInput(
            "retention_days must be a positive integer", field="retention_days"
        )
    if Space.objects.filter(team=team, slug=slug).exists():
        raise Conflict(f"team {team.slug!r} already has a space {slug!r}", field="slug")
    space = Space.objects.create(
        team=team,
        slug=slug,
        name=name or slug,
        description=description,
        retention_days=retention_days,
    )
    keyring.space_keys_init(space=space)
    access_record(actor=actor, action="space.create", surface=surface, space=space)
    return space


@transaction.atomic
def space_update(
    *, actor: Actor, space: Space, surface: str = "api", **fields
) -> Space:
    """Change name / description / retention of a space (manage permission)."""
    require_perm(actor, space, permissions.MANAGE)
    allowed = {"name", "description", "retention_days"}
    unknown = set(fields) - allowed
    if unknown:
        raise InvalidInput(f"cannot change {', '.join(sorted(unknown))}")
    for key, value in fields.items():
        setattr(space, key, value)
    space.save()
    access_record(actor=actor, action="space.update", surface=surface, space=space)
    return space


@transaction.atomic
def space_shred(*, actor: Actor, space: Space, surface: str = "api") -> None:
    """Crypto-shred a space: destroy its keys now, purge its rows in the background.

    Once this commits, nothing stored in the space can be decrypted by anyone,
    whatever copies of the database exist. The slug is freed immediately.
    """
    require_perm(actor, space, permissions.MANAGE)
    space.keys.all().delete()
    space.index_key_wrapped = None
    space.shredded_at = timezone.now()
    space.slug = f"shredded-{space.uuid.hex[:12]}"[:64]
    space.save(update_fields=["index_key_wrapped", "shredded_at", "slug"])
    access_record(actor=actor, action="space.shred", surface=surface, space=space)
    space_pk = space.pk

    def _after() -> None:
        # Tasks import this module (the accepted task <-> service pair).
        from memories.tasks import space_purge

        keyring.forget_space(space_pk)
        space_purge.delay(space_pk)

    transaction.on_commit(_after)


def space_purge(*, space_pk: int, batch: int = 5000) -> bool:
    """Delete a shredded space's rows in batches; True when nothing remains."""
    space = Space.objects.filter(pk=space_pk, shredded_at__isnull=False).first()
    if space is None:
        return True
    ids = list(Memory.objects.filter(space=space).values_list("pk", flat=True)[:batch])
    if ids:
        with transaction.atomic():
            routing_adapter().enqueue_deletes(memory_ids=ids, space_id=space.pk)
            Memory.objects.filter(pk__in=ids).delete()
        return False
    space.delete()
    return True
