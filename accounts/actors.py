"""Actors: who is doing something — a user or an API key — as one value.

Every service takes ``actor``; audit and history record ``actor.label``.
"""

from dataclasses import dataclass, field

from accounts.models import ApiKey, User


@dataclass(frozen=True)
class Actor:
    """A user (session / admin / CLI) or an API key acting for its team."""

    user: User | None = None
    api_key: ApiKey | None = None
    # For API keys: the allowed space ids (empty = no restriction) and whether
    # the key may write. Cached with the key, so no query on the hot path.
    key_space_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def label(self) -> str:
        if self.api_key is not None:
            return f"key:{self.api_key.prefix}"
        if self.user is not None:
            return f"user:{self.user.pk}:{self.user.get_username()}"
        return "system"

    @property
    def is_system(self) -> bool:
        return self.user is None and self.api_key is None

    @property
    def is_superuser(self) -> bool:
        return bool(self.user is not None and self.user.is_superuser)

    @property
    def team_id(self) -> int | None:
        return self.api_key.team_id if self.api_key is not None else None


SYSTEM = Actor()


def actor_for_user(user: User) -> Actor:
    """The actor for a logged-in user."""
    return Actor(user=user)


def actor_for_key(api_key: ApiKey, space_ids: frozenset[int] | None = None) -> Actor:
    """The actor for an API key (``space_ids`` from the auth cache if known)."""
    if space_ids is None:
        space_ids = frozenset(api_key.spaces.values_list("pk", flat=True))
    return Actor(api_key=api_key, key_space_ids=space_ids)


def actor_from_request(request) -> Actor:
    """The actor behind a DRF/Django request (API key wins over session)."""
    auth = getattr(request, "auth", None)
    if isinstance(auth, Actor):
        return auth
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Actor(user=user)
    return SYSTEM
