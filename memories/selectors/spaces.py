"""Space reads that cross a permission boundary: a space by slug, a key's own space.

Every function takes the actor and scopes the queryset *before* lookup, so a
space the caller may not see is a 404, never a 403.
"""

from collections.abc import Iterable

from django.db import connection
from django.db.models import Count, Max, Q, QuerySet

from accounts.actors import Actor
from memories import permissions
from memories.models import MemoryState, Space
from memories.permissions import require_perm
from memoryhub.db import model_from_row
from memoryhub.errors import InvalidInput, NotFound


def space_get(
    *,
    actor: Actor,
    team_slug: str | None = None,
    slug: str,
    perm: str = permissions.VIEW,
) -> Space:
    """A space visible to ``actor`` by slug (404 otherwise; 403 if ``perm`` lacking)."""
    if team_slug is None and actor.api_key is not None:
        # Hot path of every API request: the key's own team's space of that
        # slug wins (see below), found with one simple query.
        own = key_own_space(actor, slug=slug)
        if own is not None:
            if perm != permissions.VIEW:
                require_perm(actor, own, perm)
            return own
    # No ORDER BY: more than one match is an error anyway, and the model's
    # default ordering (team slug) would join and sort on every request.
    spaces = permissions.spaces_visible_to(actor).filter(slug=slug).order_by()
    if team_slug is not None:
        spaces = spaces.filter(team__slug=team_slug)
    elif actor.api_key is not None:
        # A key names spaces by slug; prefer its own team's space of that slug.
        own = [s for s in spaces if s.team_id == actor.api_key.team_id]
        spaces = own or list(spaces)
    found = list(spaces[:2]) if isinstance(spaces, QuerySet) else spaces[:2]
    if not found:
        raise NotFound(f"space {slug!r} not found")
    if len(found) > 1:
        raise InvalidInput(
            f"more than one visible space is called {slug!r}; name the team too "
            "(?team=<slug>)"
        )
    space = found[0]
    if perm != permissions.VIEW:
        require_perm(actor, space, perm)
    return space


def key_own_space(
    actor: Actor, *, slug: str | None = None, pks: Iterable[int] = ()
) -> Space | None:
    """The live space of the key's own team by ``slug`` (or among ``pks``), if
    the key may see it.

    One plain query, no guardian tables, no query compilation and no
    queryset to build the row: every API,
    mem0-compatible and MCP request of a key resolves its space here first;
    callers fall back to :func:`permissions.spaces_visible_to` for spaces
    shared from other teams. ``space.team`` is the key's cached team row.
    Anything but a key (a user, anonymous) gets None.
    """
    if actor.api_key is None:
        return None
    condition, value = (
        ("slug = %s", slug) if slug is not None else ("id = ANY(%s)", list(pks))
    )
    with connection.cursor() as cursor:
        cursor.execute(
            _OWN_SPACE + condition + " LIMIT 1", [actor.api_key.team_id, value]
        )
        row = cursor.fetchone()
    if row is None:
        return None
    space = model_from_row(Space, _SPACE_FIELDS, row)
    space.team = actor.api_key.team
    if permissions.VIEW in permissions.space_perms(actor, space):
        return space
    return None


_SPACE_FIELDS = Space._meta.concrete_fields
_SPACE_COLUMNS = ", ".join(f'"{field.column}"' for field in _SPACE_FIELDS)
_OWN_SPACE = (  # the table and column names are the model's own, not input
    f"SELECT {_SPACE_COLUMNS} FROM {Space._meta.db_table} "  # noqa: S608
    "WHERE team_id = %s AND shredded_at IS NULL AND "
)


def spaces_of_team(*, actor: Actor, team, slugs) -> list[Space]:
    """The live spaces of ``team`` named ``slugs`` (``InvalidInput`` if one is not)."""
    slugs = list(dict.fromkeys(slugs))
    found = list(permissions.spaces_visible_to(actor).filter(team=team, slug__in=slugs))
    missing = sorted(set(slugs) - {space.slug for space in found})
    if missing:
        raise InvalidInput(
            f"team {team.slug!r} has no space(s) {', '.join(missing)}", field="spaces"
        )
    return found


def team_spaces(*, actor: Actor, team) -> QuerySet[Space]:
    """The live spaces of ``team`` that ``actor`` may view, by slug."""
    return permissions.spaces_visible_to(actor).filter(team=team).order_by("slug")


def spaces_overview(*, actor: Actor) -> QuerySet[Space]:
    """The spaces ``actor`` may view, each with ``memory_count`` (active
    memories) and ``last_activity`` (the latest change of any of its memories).

    One query, whatever the number of spaces: the counts are aggregated in
    the same statement (the team app's home page lists them all). Ordered by
    team slug and space slug, with ``team`` joined.
    """
    return permissions.spaces_visible_to(actor).annotate(
        memory_count=Count("memories", filter=Q(memories__state=MemoryState.ACTIVE)),
        last_activity=Max("memories__updated_at"),
    )
