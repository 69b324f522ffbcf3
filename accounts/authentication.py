"""API key authentication for DRF (``Authorization: Bearer|Token <key>``).

The key row is cached by prefix for ``API_KEY_CACHE_SECONDS`` so an
authenticated request costs no query on the hot path; revocation deletes the
cache entry (and with a per-process cache, other processes notice within the
cache lifetime — use ``MEMORYHUB_CACHE_URL`` for a shared cache). The secret
is always compared in constant time, also when the prefix is unknown, so
response timing does not reveal which prefixes exist.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.actors import Actor, actor_for_key
from accounts.models import ApiKey
from accounts.services import api_key_cache_key, api_key_verify, split_key
from memoryhub.keyed import key_from_header

_LAST_USED_RESOLUTION = timedelta(seconds=60)
_DUMMY = ApiKey(hashed_secret="0" * 64)


@dataclass(frozen=True)
class KeyPrincipal:
    """What ``request.user`` is for a request authenticated by an API key."""

    api_key: ApiKey
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_staff: bool = False
    is_superuser: bool = False
    is_active: bool = True
    pk = None
    id = None

    def get_username(self) -> str:
        return f"key:{self.api_key.prefix}"

    def __str__(self) -> str:
        return self.get_username()


def _load(prefix: str) -> tuple[ApiKey, frozenset[int]] | None:
    key = api_key_cache_key(prefix)
    cached = cache.get(key)
    if cached is not None:
        return cached or None
    api_key = ApiKey.objects.select_related("team").filter(prefix=prefix).first()
    value = (
        (api_key, frozenset(api_key.spaces.values_list("pk", flat=True)))
        if api_key
        else ()
    )
    cache.set(key, value, settings.API_KEY_CACHE_SECONDS)
    return value or None


def authenticate_key(raw: str) -> Actor:
    """Resolve a presented key to an actor or raise ``AuthenticationFailed``."""
    parts = split_key(raw)
    loaded = _load(parts[0]) if parts else None
    api_key, space_ids = loaded if loaded else (_DUMMY, frozenset())
    if not api_key_verify(api_key, raw) or loaded is None:
        raise exceptions.AuthenticationFailed("Invalid API key.")
    now = timezone.now()
    if api_key.revoked_at is not None:
        raise exceptions.AuthenticationFailed("This API key has been revoked.")
    if api_key.expires_at is not None and api_key.expires_at <= now:
        raise exceptions.AuthenticationFailed("This API key has expired.")
    if (
        api_key.last_used_at is None
        or now - api_key.last_used_at > _LAST_USED_RESOLUTION
    ):
        # At most one write per key per minute (per process), not per request.
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
        cache.set(
            api_key_cache_key(api_key.prefix),
            (api_key, space_ids),
            settings.API_KEY_CACHE_SECONDS,
        )
    return actor_for_key(api_key, space_ids)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """DRF authentication class for MemoryHub API keys."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        raw = key_from_header(header)
        if raw is None:
            scheme = header.split(" ", 1)[0]
            if scheme.lower() in ("basic", "digest"):
                return None
            raise exceptions.AuthenticationFailed(
                "Unsupported Authorization scheme; send 'Bearer <api key>' or "
                "'Token <api key>'."
            )
        actor = authenticate_key(raw)
        return KeyPrincipal(api_key=actor.api_key), actor

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (with WWW-Authenticate) rather than 403.
        return 'Bearer realm="memoryhub"'
