"""Actors: who is doing something — a user or an API key — as one value.

Every service takes ``actor``; audit and history record ``actor.label``.

Permissions fail closed: a request without a credential is :data:`ANONYMOUS`,
which holds no permission anywhere. The all-powerful :data:`SYSTEM` actor is
never the fallback of anything; only code that names it (management commands,
Celery tasks, sweeps) acts as it.
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
    # Set only on :data:`SYSTEM`; an actor with neither user nor key nor this
    # flag is anonymous.
    system: bool = False
    # Work done for something named (``"sync job 7"`` as SYSTEM, an
    # extraction as the key that asked for it): history and audit record
    # this name instead of the actor's own label.
    on_behalf: str = ""

    @property
    def label(self) -> str:
        if self.on_behalf:
            return self.on_behalf
        if self.api_key is not None:
            return f"key:{self.api_key.prefix}"
        if self.user is not None:
            return f"user:{self.user.pk}:{self.user.get_username()}"
        return "system" if self.system else "anonymous"

    @property
    def is_system(self) -> bool:
        """Only :data:`SYSTEM`: commands and tasks that name it."""
        return self.system

    @property
    def is_anonymous(self) -> bool:
        """No credential at all: no permission anywhere."""
        return not self.system and self.user is None and self.api_key is None

    @property
    def is_operator(self) -> bool:
        """Operators manage the hub itself: active staff users (no key), or SYSTEM.

        The one operator check: the routing API's permission class and the
        services both ask this. An API key acts for its team, never as an
        operator, even when a staff user created it.
        """
        if self.system:
            return True
        user = self.user
        return bool(
            self.api_key is None
            and user is not None
            and user.is_active
            and user.is_staff
        )

    @property
    def is_superuser(self) -> bool:
        return bool(self.user is not None and self.user.is_superuser)

    @property
    def team_id(self) -> int | None:
        return self.api_key.team_id if self.api_key is not None else None


SYSTEM = Actor(system=True)
ANONYMOUS = Actor()


def system_actor(name: str) -> Actor:
    """:data:`SYSTEM` working for ``name`` (a sync job, an extraction): all the
    powers of SYSTEM, recorded under ``name`` in history and audit."""
    return Actor(system=True, on_behalf=name)


def actor_for_user(user: User) -> Actor:
    """The actor for a logged-in user."""
    return Actor(user=user)


def actor_for_key(api_key: ApiKey, space_ids: frozenset[int] | None = None) -> Actor:
    """The actor for an API key (``space_ids`` from the auth cache if known)."""
    if space_ids is None:
        space_ids = frozenset(api_key.spaces.values_list("pk", flat=True))
    return Actor(api_key=api_key, key_space_ids=space_ids)


def actor_from_request(request) -> Actor:
    """The actor behind a DRF/Django request (API key wins over session).

    Without a credential this is :data:`ANONYMOUS`, never :data:`SYSTEM`.
    """
    auth = getattr(request, "auth", None)
    if isinstance(auth, Actor):
        return auth
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Actor(user=user)
    return ANONYMOUS
