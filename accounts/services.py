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

from accounts.models import ApiKey, Membership, Role, Team, User

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


@transaction.atomic
def api_key_create(
    *,
    team: Team,
    name: str,
    spaces=(),
    read_only: bool = False,
    expires_at: datetime | None = None,
    created_by: User | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns it with its secret, which is never stored or shown again."""
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
    return api_key, secret


def api_key_cache_key(prefix: str) -> str:
    """Cache key under which :mod:`accounts.authentication` keeps a key's row."""
    return f"apikey:{prefix}"


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke a key now; idempotent."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    transaction.on_commit(lambda: cache.delete(api_key_cache_key(api_key.prefix)))
    return api_key


def api_key_verify(api_key: ApiKey, raw: str) -> bool:
    """Constant-time comparison of a presented key with the stored hash."""
    return secrets.compare_digest(api_key.hashed_secret, _hash_secret(raw))
