"""Account services: users, teams, memberships and API keys (all writes)."""

import hashlib
import secrets
from datetime import datetime

from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.actors import Actor
from accounts.models import ApiKey, Membership, Role, Team, User
from accounts.selectors import teams_administered_by
from memoryhub.errors import Forbidden
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
