"""Account reads that cross a permission boundary: which teams an actor sees.

A team the caller does not belong to is a 404, never a 403; administering it
(keys, spaces, audit) needs the owner or admin role and a signed-in user,
because an API key must not mint or revoke keys.
"""

from django.db.models import QuerySet
from django.utils import timezone

from accounts.actors import Actor
from accounts.models import ApiKey, Invitation, Membership, Role, Team
from memoryhub.errors import Forbidden, NotFound

ADMIN_ROLES = (Role.OWNER, Role.ADMIN)


def teams_visible_to(actor: Actor) -> QuerySet[Team]:
    """Teams the actor belongs to (a key: its own team; superusers: all)."""
    if actor.is_system or actor.is_superuser:
        return Team.objects.all()
    if actor.api_key is not None:
        return Team.objects.filter(pk=actor.api_key.team_id)
    if actor.user is None:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=actor.user)


def teams_administered_by(actor: Actor) -> QuerySet[Team]:
    """Teams whose owners/admins include the actor (keys administer none)."""
    if actor.is_system or actor.is_superuser:
        return Team.objects.all()
    if actor.user is None:
        return Team.objects.none()
    return Team.objects.filter(
        memberships__user=actor.user, memberships__role__in=ADMIN_ROLES
    )


def team_roles(actor: Actor) -> dict[int, str]:
    """``{team_pk: role}`` of a user's memberships (empty for keys)."""
    if actor.user is None:
        return {}
    return dict(
        Membership.objects.filter(user=actor.user).values_list("team_id", "role")
    )


def team_get(*, actor: Actor, slug: str, admin: bool = False) -> Team:
    """A team visible to the actor (404 otherwise); ``admin`` also requires
    a signed-in owner/admin (403 for members and API keys)."""
    team = teams_visible_to(actor).filter(slug=slug).first()
    if team is None:
        raise NotFound(f"team {slug!r} not found")
    if admin and not teams_administered_by(actor).filter(pk=team.pk).exists():
        if actor.api_key is not None:
            raise Forbidden(
                "API keys cannot administer a team; sign in as a team owner or admin"
            )
        raise Forbidden(f"only owners and admins of team {slug!r} may do this")
    return team


def api_keys_of(*, actor: Actor, team: Team) -> QuerySet[ApiKey]:
    """The keys of ``team`` if ``actor`` administers it (else none)."""
    return (
        ApiKey.objects.filter(team=team, team__in=teams_administered_by(actor))
        .select_related("created_by")
        .prefetch_related("spaces")
    )


def api_key_get(*, actor: Actor, team: Team, key_id: int) -> ApiKey:
    """One key of ``team`` (404 if it belongs to another team or does not exist)."""
    api_key = api_keys_of(actor=actor, team=team).filter(pk=key_id).first()
    if api_key is None:
        raise NotFound(f"API key {key_id} not found in team {team.slug!r}")
    return api_key


def team_members(*, actor: Actor, team: Team) -> QuerySet[Membership]:
    """The memberships of ``team`` (its members see them; 404 for others)."""
    team_get(actor=actor, slug=team.slug)
    return (
        Membership.objects.filter(team=team)
        .select_related("user")
        .order_by("user__username")
    )


def invitations_pending(*, actor: Actor, team: Team) -> QuerySet[Invitation]:
    """Unused, unrevoked, unexpired invitations of ``team`` (owners/admins)."""
    team_get(actor=actor, slug=team.slug, admin=True)
    return (
        Invitation.objects.filter(
            team=team,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .select_related("invited_by")
        .order_by("-created_at")
    )
