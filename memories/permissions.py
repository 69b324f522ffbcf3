"""Who may do what on which space: team roles + guardian object permissions.

Two layers (see STYLE.md): the team role decides the default set of
permissions a member has on the team's spaces; guardian object permissions on
a ``Space`` grant more to individual users or to whole teams (through the
team's group). API keys act for their team and are narrowed by their scope
(listed spaces, read-only); they never get ``manage_space``.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db.models import Q, QuerySet

from accounts.actors import Actor
from accounts.models import Membership, Role
from memories.models import Space, SpaceGroupObjectPermission, SpaceUserObjectPermission
from memoryhub.errors import Forbidden, NotFound

VIEW = "view_space"
ADD = "add_memory"
CHANGE = "change_memory"
DELETE = "delete_memory"
MANAGE = "manage_space"
ALL_PERMS = frozenset({VIEW, ADD, CHANGE, DELETE, MANAGE})
WRITE_PERMS = frozenset({VIEW, ADD, CHANGE, DELETE})
READ_PERMS = frozenset({VIEW})

ROLE_PERMS = {
    Role.OWNER: ALL_PERMS,
    Role.ADMIN: ALL_PERMS,
    Role.MEMBER: WRITE_PERMS,
    Role.VIEWER: READ_PERMS,
}


def roles_granting(perm: str) -> list[str]:
    """Team roles whose defaults include ``perm``."""
    return [role.value for role, perms in ROLE_PERMS.items() if perm in perms]


def _key_ceiling(actor: Actor) -> frozenset[str]:
    return READ_PERMS if actor.api_key.read_only else WRITE_PERMS


# A request-scoped memo of ``space_perms``: one page asks the same question
# several times (the space selector, the list selector, the template's
# controls). Only inside ``perms_memo()`` (the team app's views enter it per
# request); writes that change permissions call ``perms_forget()``.
_memo: ContextVar[dict | None] = ContextVar("space_perms_memo", default=None)


@contextmanager
def perms_memo() -> Iterator[None]:
    """Remember ``space_perms`` answers until the block ends (one request)."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def perms_forget() -> None:
    """Drop remembered answers (after a grant, a revocation, a role change)."""
    memo = _memo.get()
    if memo is not None:
        memo.clear()


def space_perms(actor: Actor, space: Space) -> frozenset[str]:
    """The permission codenames ``actor`` holds on ``space``."""
    memo = _memo.get()
    if memo is None:
        return _space_perms(actor, space)
    key = (actor.label, actor.key_space_ids, space.pk, space.shredded_at)
    if key not in memo:
        memo[key] = _space_perms(actor, space)
    return memo[key]


def _space_perms(actor: Actor, space: Space) -> frozenset[str]:
    if space.shredded_at is not None:
        return frozenset()
    if actor.is_system or actor.is_superuser:
        return ALL_PERMS
    if actor.api_key is not None:
        key = actor.api_key
        if actor.key_space_ids and space.pk not in actor.key_space_ids:
            return frozenset()
        if space.team_id == key.team_id:
            return _key_ceiling(actor)
        granted = SpaceGroupObjectPermission.objects.filter(
            content_object=space, group_id=key.team.group_id
        ).values_list("permission__codename", flat=True)
        return frozenset(granted) & _key_ceiling(actor)
    user = actor.user
    if user is None:
        # Anonymous. Also why: ``group__user=None`` below would match every
        # group without members, i.e. hand out a member-less team's grants.
        return frozenset()
    # One query: the user's role in the space's team, and the codenames
    # granted to the user and to their teams' groups (role names and
    # permission codenames are disjoint, so one column holds both).
    role = Membership.objects.filter(user=user, team_id=space.team_id).values_list(
        "role", flat=True
    )
    by_user = SpaceUserObjectPermission.objects.filter(
        content_object=space, user=user
    ).values_list("permission__codename", flat=True)
    by_group = SpaceGroupObjectPermission.objects.filter(
        content_object=space, group__user=user
    ).values_list("permission__codename", flat=True)
    perms: set[str] = set()
    for name in role.union(by_user, by_group, all=True):
        if name in Role.values:
            perms |= ROLE_PERMS[Role(name)]
        else:
            perms.add(name)
    return frozenset(perms)


def spaces_visible_to(actor: Actor, perm: str = VIEW) -> QuerySet[Space]:
    """Spaces on which ``actor`` holds ``perm`` (an ``id__in`` subquery, one query)."""
    spaces = Space.objects.filter(shredded_at__isnull=True).select_related("team")
    if actor.is_system or actor.is_superuser:
        return spaces
    if actor.api_key is not None:
        key = actor.api_key
        if perm not in _key_ceiling(actor):
            return spaces.none()
        shared = SpaceGroupObjectPermission.objects.filter(
            group_id=key.team.group_id, permission__codename=perm
        ).values("content_object_id")
        spaces = spaces.filter(Q(team_id=key.team_id) | Q(pk__in=shared))
        if actor.key_space_ids:
            spaces = spaces.filter(pk__in=actor.key_space_ids)
        return spaces
    user = actor.user
    if user is None:  # anonymous (and see space_perms: no group__user=None)
        return spaces.none()
    by_role = Membership.objects.filter(
        user=user, role__in=roles_granting(perm)
    ).values("team_id")
    by_user = SpaceUserObjectPermission.objects.filter(
        user=user, permission__codename=perm
    ).values("content_object_id")
    by_group = SpaceGroupObjectPermission.objects.filter(
        group__user=user, permission__codename=perm
    ).values("content_object_id")
    return spaces.filter(
        Q(team_id__in=by_role) | Q(pk__in=by_user) | Q(pk__in=by_group)
    )


def team_role(actor: Actor, team_id: int) -> str | None:
    """The actor's role in a team (superusers count as owner; keys as none)."""
    if actor.is_system or actor.is_superuser:
        return Role.OWNER
    if actor.user is None:
        return None
    return (
        Membership.objects.filter(user=actor.user, team_id=team_id)
        .values_list("role", flat=True)
        .first()
    )


def can_admin_team(actor: Actor, team_id: int) -> bool:
    """Owners and admins (and superusers) administer a team: spaces, keys."""
    return team_role(actor, team_id) in (Role.OWNER, Role.ADMIN)


def require_perm(actor: Actor, space: Space, perm: str) -> frozenset[str]:
    """Raise 404 if ``actor`` cannot see ``space``, 403 if it lacks ``perm``."""
    perms = space_perms(actor, space)
    if VIEW not in perms:
        raise NotFound(f"space {space.slug!r} not found")
    if perm not in perms:
        raise Forbidden(f"you may not {perm.replace('_', ' ')} in space {space.slug!r}")
    return perms
