"""Sharing a space with users and teams through guardian object permissions.

Only holders of ``manage_space`` share. Every grant includes ``view_space``:
a permission to add or change memories in a space one cannot see would make
no sense, so view is implied and is the last permission to go.
Grants to a team are stored on the team's permission group, so the team's
members and API keys (within their scope) receive them.
"""

from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from accounts.actors import Actor
from accounts.models import Team, User
from audit.services import access_record
from memories import permissions
from memories.models import Space, SpaceGroupObjectPermission, SpaceUserObjectPermission
from memories.permissions import require_perm
from memoryhub.errors import InvalidInput

PERM_ORDER = (
    permissions.VIEW,
    permissions.ADD,
    permissions.CHANGE,
    permissions.DELETE,
    permissions.MANAGE,
)


def _clean_perms(perms, *, required: bool) -> list[str]:
    if perms is None and not required:
        return []
    if not isinstance(perms, list | tuple | set | frozenset) or (
        required and not perms
    ):
        raise InvalidInput(
            f"permissions must be a non-empty list of: {', '.join(PERM_ORDER)}",
            field="permissions",
        )
    unknown = sorted(str(p) for p in perms if p not in permissions.ALL_PERMS)
    if unknown:
        raise InvalidInput(
            f"unknown permission(s) {', '.join(unknown)}; use: {', '.join(PERM_ORDER)}",
            field="permissions",
        )
    return [p for p in PERM_ORDER if p in perms]


def _principal(*, user: str | None, team: str | None):
    """The ``User`` or the team's ``Group`` named by exactly one of the two."""
    if (user is None) == (team is None):
        raise InvalidInput("name exactly one of 'user' (a username) or 'team' (a slug)")
    if user is not None:
        found = User.objects.filter(username=user, is_active=True).first()
        if found is None:
            raise InvalidInput(f"no active user named {user!r}", field="user")
        return found, {"user": found.get_username()}
    found_team = Team.objects.select_related("group").filter(slug=team).first()
    if found_team is None:
        raise InvalidInput(f"no team with slug {team!r}", field="team")
    return found_team.group, {"team": found_team.slug}


def _held(space: Space, principal) -> set[str]:
    if isinstance(principal, User):
        rows = SpaceUserObjectPermission.objects.filter(
            content_object=space, user=principal
        )
    else:
        rows = SpaceGroupObjectPermission.objects.filter(
            content_object=space, group=principal
        )
    return set(rows.values_list("permission__codename", flat=True))


def _audit(actor: Actor, action: str, space: Space, label: dict, perms, surface):
    access_record(
        actor=actor,
        action=action,
        surface=surface,
        space=space,
        detail={
            "principal": next(f"{k}:{v}" for k, v in label.items()),
            "permissions": perms,
        },
    )


@transaction.atomic
def space_share(
    *,
    actor: Actor,
    space: Space,
    user: str | None = None,
    team: str | None = None,
    perms,
    surface: str = "api",
) -> dict:
    """Grant ``perms`` (plus ``view_space``) on ``space`` to a user or a team.

    Returns the principal's grant afterwards: ``{"user"|"team": ..., "permissions"}``.
    """
    require_perm(actor, space, permissions.MANAGE)
    wanted = _clean_perms(perms, required=True)
    principal, label = _principal(user=user, team=team)
    if permissions.VIEW not in wanted:
        wanted.insert(0, permissions.VIEW)
    held = _held(space, principal)
    for perm in wanted:
        if perm not in held:
            assign_perm(perm, principal, space)
    permissions.perms_forget()
    _audit(actor, "space.share", space, label, wanted, surface)
    return {**label, "permissions": [p for p in PERM_ORDER if p in held | set(wanted)]}


@transaction.atomic
def space_unshare(
    *,
    actor: Actor,
    space: Space,
    user: str | None = None,
    team: str | None = None,
    perms=None,
    surface: str = "api",
) -> dict:
    """Withdraw ``perms`` (all when omitted) from a user or team on ``space``.

    Withdrawing ``view_space`` withdraws everything, since the rest imply it.
    """
    require_perm(actor, space, permissions.MANAGE)
    dropped = _clean_perms(perms, required=False)
    principal, label = _principal(user=user, team=team)
    held = _held(space, principal)
    if not dropped or permissions.VIEW in dropped:
        dropped = list(PERM_ORDER)
    for perm in dropped:
        if perm in held:
            remove_perm(perm, principal, space)
    permissions.perms_forget()
    remaining = held - set(dropped)
    _audit(actor, "space.unshare", space, label, dropped, surface)
    return {**label, "permissions": [p for p in PERM_ORDER if p in remaining]}


@transaction.atomic
def space_grant_set(
    *,
    actor: Actor,
    space: Space,
    user: str | None = None,
    team: str | None = None,
    perms,
    surface: str = "api",
) -> dict:
    """Make a user's or team's grant on ``space`` exactly ``perms`` (plus view).

    Empty ``perms`` withdraws the grant. Forms that edit a whole grant at once
    (the admin's object-permission pages) call this instead of working out
    what to add and what to withdraw themselves.
    """
    require_perm(actor, space, permissions.MANAGE)
    wanted = _clean_perms(perms, required=False)
    principal, label = _principal(user=user, team=team)
    held = _held(space, principal) & permissions.ALL_PERMS
    if not wanted:
        if not held:
            return {**label, "permissions": []}
        return space_unshare(actor=actor, space=space, surface=surface, **label)
    dropped = held - set(wanted) - {permissions.VIEW}
    if dropped:
        space_unshare(
            actor=actor, space=space, perms=sorted(dropped), surface=surface, **label
        )
    return space_share(actor=actor, space=space, perms=wanted, surface=surface, **label)


def space_grants(*, actor: Actor, space: Space) -> list[dict]:
    """Every explicit grant on ``space`` (team roles are implicit, not listed)."""
    require_perm(actor, space, permissions.MANAGE)
    grants: dict[tuple, set[str]] = {}
    for username, codename in SpaceUserObjectPermission.objects.filter(
        content_object=space
    ).values_list("user__username", "permission__codename"):
        grants.setdefault(("user", username), set()).add(codename)
    for group_name, team_slug, codename in SpaceGroupObjectPermission.objects.filter(
        content_object=space
    ).values_list("group__name", "group__team__slug", "permission__codename"):
        key = ("team", team_slug) if team_slug else ("group", group_name)
        grants.setdefault(key, set()).add(codename)
    return [
        {kind: name, "permissions": [p for p in PERM_ORDER if p in perms]}
        for (kind, name), perms in sorted(grants.items())
    ]
