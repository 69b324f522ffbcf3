"""Access audit: one append-only row per read, search, write or delete.

Rows carry ids and counts only — never content, queries or metadata values.
"""

from collections.abc import Iterable

from accounts.actors import Actor
from memories.models import AccessEvent, Space

MAX_IDS_PER_EVENT = 1000


def access_record(
    *,
    actor: Actor,
    action: str,
    surface: str,
    space: Space | None = None,
    memory_ids: Iterable = (),
    count: int | None = None,
    detail: dict | None = None,
    backend: str = "local",
    team_pk: int | None = None,
) -> AccessEvent:
    """Append an audit row; ids beyond ``MAX_IDS_PER_EVENT`` are counted, not listed.

    ``team_pk`` attributes a row without a space (API key changes) to a team.
    """
    ids = list(memory_ids)
    return AccessEvent.objects.create(
        actor=actor.label,
        user_pk=actor.user.pk if actor.user is not None else None,
        api_key_pk=actor.api_key.pk if actor.api_key is not None else None,
        team_pk=(
            space.team_id
            if space is not None
            else team_pk
            if team_pk is not None
            else actor.team_id
        ),
        space_pk=space.pk if space is not None else None,
        space_slug=space.slug if space is not None else "",
        action=action,
        surface=surface,
        backend=backend,
        memory_ids=ids[:MAX_IDS_PER_EVENT],
        count=len(ids) if count is None else count,
        detail=detail or {},
    )
