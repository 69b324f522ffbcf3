"""Account services: users, teams, memberships and API keys (all writes)."""

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.actors import Actor
from accounts.models import ApiKey, Invitation, Membership, Role, Team, User
from accounts.selectors import teams_administered_by
from memoryhub.errors import Forbidden, Gone, NotFound
from memoryhub.seams import resolve

KEY_PREFIX = "mh_"
PREFIX_CHARS = 12


def user_create(
    *,
    username: str,
    email: str = "",
    password: str | None = None,
    is_staff: bool = False,
    is_superuser: bool = False,
) -> User:
    """Create a user; ``password=None`` makes an unusable password."""
    if User.objects.filter(username=username).exists():
        raise ValidationError(f"user {username!r} already exists")
    user = User(username=username, email=email, is_staff=is_staff or is_superuser)
    user.is_superuser = is_superuser
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    return user


@transaction.atomic
def team_create(*, slug: str, name: str = "") -> Team:
    """Create a team and its private permission group."""
    if slugify(slug) != slug or not slug:
        raise ValidationError(
            f"team slug {slug!r} must be lowercase letters, digits and hyphens"
        )
    if Team.objects.filter(slug=slug).exists():
        raise ValidationError(f"team {slug!r} already exists")
    group = Group.objects.create(name=f"team:{slug}")
    return Team.objects.create(slug=slug, name=name or slug, group=group)


@transaction.atomic
def membership_set(*, team: Team, user: User, role: str) -> Membership:
    """Give ``user`` ``role`` in ``team`` (creating or changing the membership)."""
    if role not in Role.values:
        raise ValidationError(
            f"unknown role {role!r}; use one of {', '.join(Role.values)}"
        )
    membership, _ = Membership.objects.update_or_create(
        user=user, team=team, defaults={"role": role}
    )
    user.groups.add(team.group)
    return membership


@transaction.atomic
def membership_remove(*, team: Team, user: User) -> None:
    """Remove ``user`` from ``team``."""
    Membership.objects.filter(user=user, team=team).delete()
    user.groups.remove(team.group)


def _hash_secret(secret: str) -> str:
    # Secrets are 256 random bits, so a fast hash is as strong as a slow one;
    # SHA-256 keeps verification cheap on every request.
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(raw: str) -> tuple[str, str] | None:
    """Split ``mh_<prefix>_<secret>`` into (prefix, full key); None if malformed."""
    if not raw.startswith(KEY_PREFIX):
        return None
    prefix, sep, rest = raw[len(KEY_PREFIX) :].partition("_")
    if not sep or len(prefix) != PREFIX_CHARS or not rest:
        return None
    return prefix, raw


def _require_key_admin(actor: Actor, team: Team) -> None:
    """Keys are managed by signed-in team owners/admins, never by another key."""

    if actor.api_key is not None:
        raise Forbidden(
            "API keys cannot create or revoke keys; sign in as a team owner or admin"
        )
    if not teams_administered_by(actor).filter(pk=team.pk).exists():
        raise Forbidden(f"only owners and admins of team {team.slug!r} manage its keys")


def _audit_key(actor: Actor, action: str, api_key: ApiKey, surface: str) -> None:
    # The audit sits above accounts: reach it through its seam, not an import.
    resolve("MEMORYHUB_AUDIT_RECORDER")(
        actor=actor,
        action=action,
        surface=surface,
        team_pk=api_key.team_id,
        detail={"key": api_key.prefix, "name": api_key.name},
    )


@transaction.atomic
def api_key_create(
    *,
    team: Team,
    name: str,
    spaces=(),
    read_only: bool = False,
    expires_at: datetime | None = None,
    created_by: User | None = None,
    actor: Actor | None = None,
    surface: str = "api",
) -> tuple[ApiKey, str]:
    """Create a key; returns it with its secret, which is never stored or shown again.

    With ``actor`` (every user-facing surface) the actor must be a signed-in
    owner/admin of ``team``, becomes ``created_by``, and the creation is
    audited; without it (factories, operator commands) the caller is trusted.
    """
    if actor is not None:
        _require_key_admin(actor, team)
        created_by = actor.user
    if not name or len(name) > 100:
        raise ValidationError("key name must be 1-100 characters")
    spaces = list(spaces)
    for space in spaces:
        if space.team_id != team.pk:
            raise ValidationError(
                f"space {space.slug!r} does not belong to team {team.slug!r}"
            )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError("expires_at must be in the future")
    prefix = secrets.token_hex(PREFIX_CHARS // 2)
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        team=team,
        name=name,
        prefix=prefix,
        hashed_secret=_hash_secret(secret),
        read_only=read_only,
        expires_at=expires_at,
        created_by=created_by,
    )
    if spaces:
        api_key.spaces.set(spaces)
    if actor is not None:
        _audit_key(actor, "apikey.create", api_key, surface)
    return api_key, secret


def api_key_cache_key(prefix: str) -> str:
    """Cache key under which :mod:`accounts.authentication` keeps a key's row."""
    return f"apikey:{prefix}"


@transaction.atomic
def api_key_revoke(
    *, api_key: ApiKey, actor: Actor | None = None, surface: str = "api"
) -> ApiKey:
    """Revoke a key now; idempotent. ``actor`` as for :func:`api_key_create`."""
    if actor is not None:
        _require_key_admin(actor, api_key.team)
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        if actor is not None:
            _audit_key(actor, "apikey.revoke", api_key, surface)
    transaction.on_commit(lambda: cache.delete(api_key_cache_key(api_key.prefix)))
    return api_key


def api_key_verify(api_key: ApiKey, raw: str) -> bool:
    """Constant-time comparison of a presented key with the stored hash."""
    return secrets.compare_digest(api_key.hashed_secret, _hash_secret(raw))


# --- members and invitations --------------------------------------------------------


def _require_team_admin(actor: Actor, team: Team) -> None:
    if actor.api_key is not None or not (
        teams_administered_by(actor).filter(pk=team.pk).exists()
    ):
        raise Forbidden(
            f"only owners and admins of team {team.slug!r} manage its members"
        )


def _require_role_change(actor: Actor, team: Team, *roles: str) -> None:
    """Admins manage members, admins and viewers; owners are the owners'."""
    _require_team_admin(actor, team)
    if Role.OWNER in roles and not (
        actor.is_superuser
        or actor.is_system
        or Membership.objects.filter(
            team=team, user=actor.user, role=Role.OWNER
        ).exists()
    ):
        raise Forbidden("only an owner may make, change or remove an owner")


def _audit_team(
    actor: Actor, action: str, team: Team, detail: dict, surface: str
) -> None:
    resolve("MEMORYHUB_AUDIT_RECORDER")(
        actor=actor, action=action, surface=surface, team_pk=team.pk, detail=detail
    )


@transaction.atomic
def member_role_set(
    *, actor: Actor, team: Team, user: User, role: str, surface: str = "api"
) -> Membership:
    """Change a member's role (owners/admins; owners only for owners)."""
    if role not in Role.values:
        raise ValidationError(
            f"unknown role {role!r}; use one of {', '.join(Role.values)}"
        )
    membership = (
        Membership.objects.select_for_update().filter(team=team, user=user).first()
    )
    if membership is None:
        raise ValidationError(f"{user.get_username()} is not a member of {team.slug}")
    _require_role_change(actor, team, membership.role, role)
    if membership.role == Role.OWNER and role != Role.OWNER:
        _keep_an_owner(team, user)
    membership.role = role
    membership.save(update_fields=["role"])
    _audit_team(actor, "team.role", team, {"user": user.pk, "role": role}, surface)
    return membership


@transaction.atomic
def member_remove(
    *, actor: Actor, team: Team, user: User, surface: str = "api"
) -> None:
    """Remove a member (owners/admins; owners only for owners; never the last)."""
    membership = (
        Membership.objects.select_for_update().filter(team=team, user=user).first()
    )
    if membership is None:
        raise ValidationError(f"{user.get_username()} is not a member of {team.slug}")
    _require_role_change(actor, team, membership.role)
    if membership.role == Role.OWNER:
        _keep_an_owner(team, user)
    membership_remove(team=team, user=user)
    _audit_team(actor, "team.remove", team, {"user": user.pk}, surface)


def _keep_an_owner(team: Team, leaving: User) -> None:
    others = (
        Membership.objects.select_for_update()
        .filter(team=team, role=Role.OWNER)
        .exclude(user=leaving)
    )
    if not others.exists():
        raise ValidationError(
            f"{team.slug} needs an owner: make someone else an owner first"
        )


def invitation_create(
    *,
    actor: Actor,
    team: Team,
    email: str,
    role: str,
    link: Callable[[str], str],
    surface: str = "api",
) -> tuple[Invitation, str]:
    """Invite ``email`` to ``team`` with ``role`` and email them the link
    (``link(token)`` builds its absolute URL). Returns the invitation and
    its token, which is stored only as a hash."""
    if role not in Role.values:
        raise ValidationError(
            f"unknown role {role!r}; use one of {', '.join(Role.values)}"
        )
    _require_role_change(actor, team, role)
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        team=team,
        email=email,
        role=role,
        token_hash=_hash_secret(token),
        invited_by=actor.user,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS),
    )
    who = actor.user.get_username() if actor.user is not None else "An operator"
    send_mail(
        subject=f"Join {team.name or team.slug} on MemoryHub",
        message=(
            f"{who} invites you to the team {team.name or team.slug} on "
            f"MemoryHub as {role}.\n\nAccept within "
            f"{settings.INVITATION_TTL_DAYS} days: {link(token)}\n\n"
            "The link works once. If you did not expect this, ignore it.\n"
        ),
        from_email=None,
        recipient_list=[email],
    )
    _audit_team(
        actor, "team.invite", team, {"invitation": invitation.pk, "role": role}, surface
    )
    return invitation, token


def invitation_revoke(
    *, actor: Actor, team: Team, invitation_id: int, surface: str = "api"
) -> None:
    """Withdraw a pending invitation (owners/admins)."""
    invitation = Invitation.objects.filter(team=team, pk=invitation_id).first()
    if invitation is None:
        raise NotFound(f"invitation {invitation_id} not found in team {team.slug!r}")
    _require_role_change(actor, team, invitation.role)
    if invitation.revoked_at is None and invitation.accepted_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        _audit_team(
            actor, "team.uninvite", team, {"invitation": invitation.pk}, surface
        )


def invitation_for_token(token: str) -> Invitation:
    """The pending invitation of ``token``; ``Gone`` if used, revoked or
    expired, ``NotFound`` if there is none."""
    invitation = (
        Invitation.objects.select_related("team")
        .filter(token_hash=_hash_secret(token))
        .first()
        if token
        else None
    )
    if invitation is None:
        raise NotFound("this invitation link is not valid; ask for a new one")
    if not invitation.pending:
        raise Gone(
            "this invitation was already used, withdrawn or has expired; "
            "ask a team owner or admin for a new one"
        )
    return invitation


@transaction.atomic
def invitation_accept(
    *,
    token: str,
    user: User | None = None,
    username: str = "",
    password: str = "",
    surface: str = "ui",
) -> Membership:
    """Join the invitation's team: as ``user`` (signed in), or as a new
    account ``username`` / ``password``. Good once (the row is locked)."""
    invitation = invitation_for_token(token)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.pending:  # accepted by a racing request meanwhile
        raise Gone("this invitation was already used")
    if user is None:
        validate_password(password, User(username=username, email=invitation.email))
        user = user_create(username=username, email=invitation.email, password=password)
    current = Membership.objects.filter(team=invitation.team, user=user).first()
    role = invitation.role
    if current is not None and _stronger(current.role, role):
        role = current.role  # an invitation never demotes
    membership = membership_set(team=invitation.team, user=user, role=role)
    invitation.accepted_at, invitation.accepted_by = timezone.now(), user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    resolve("MEMORYHUB_AUDIT_RECORDER")(
        actor=Actor(user=user),
        action="team.join",
        surface=surface,
        team_pk=invitation.team_id,
        detail={"invitation": invitation.pk, "role": role},
    )
    return membership


def _stronger(a: str, b: str) -> bool:
    order = list(Role.values)  # strongest first
    return order.index(a) < order.index(b)
