"""The declarative permission matrix: one entry per endpoint and per MCP tool.

An :class:`Endpoint` names a route as Django reports it (``api/v1/spaces/
<slug:slug>/memories/``), its URL name and HTTP method, the status every
caller of the ``cast`` gets (in the vocabulary of ``tests/permission_matrix``)
and a builder. The builder is a function of the :class:`World` returning a
:class:`Case`: the request to send (or a function of the caller building a
fresh one), the rows each caller must never see, and extra checks. Its
docstring states the behaviour; it is what a failure prints.

A :class:`ToolEntry` does the same for an MCP tool: arguments per caller and
the outcome per key, with tool outcomes read as statuses (200 a result, 403 a
"you may not" error, 404 a "not found" error, 401 no key at all).

The :class:`World` seeds three rows every test can rely on: ``mine`` in
``acme/default``, ``foreign`` in ``other/default`` and ``far`` in
``acme/elsewhere``, each with a marker in its content and ``user_id``. By
default no response may show a caller a row (id or marker) other than the one
of the space it works in (:data:`OWN_ROW`).
"""

import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urlencode

from django.urls import reverse

from accounts.actors import SYSTEM
from memories import services
from memories.models import Space
from tests.factories import unit_vector
from tests.permission_matrix import CALLERS, Call

MARKS = {
    "mine": "zqmark-acme-default",
    "foreign": "zqmark-other-default",
    "far": "zqmark-acme-elsewhere",
}
# The seeded row of the space each caller works in: ``acme/default`` for acme's
# members and unscoped keys, ``other/default`` for the other team's callers,
# ``acme/elsewhere`` for the key scoped to it; anonymous has none.
OWN_ROW = {
    "anonymous": None,
    "other_team": "foreign",
    "other_team_user": "foreign",
    "operator": "foreign",
    "no_object_perm": "far",
    "read_only": "mine",
    "viewer": "mine",
    "member": "mine",
    "owner": "mine",
    "writer": "mine",
}
assert set(OWN_ROW) == set(CALLERS)

Hidden = Iterable | Mapping[str, Iterable]


@dataclass
class Case:
    """What one matrix entry sends and checks beyond the status.

    ``hidden`` defaults to :meth:`World.hidden_rows`; ``after(who, response)``
    runs per caller whose status matched; ``then(results)`` once at the end.
    """

    call: Call | Callable[[str], Call]
    hidden: Hidden | None = None
    after: Callable | None = None
    then: Callable[[dict], None] | None = None


@dataclass
class ToolCase:
    """The arguments of one MCP tool entry, per caller, and its checks.

    ``after(who, status, structured)`` runs per caller whose outcome matched.
    """

    arguments: dict | Callable[[str], dict]
    hidden: Hidden | None = None
    after: Callable | None = None
    then: Callable[[dict], None] | None = None


@dataclass(frozen=True)
class Endpoint:
    """One route and method of the HTTP surfaces, with its expectations."""

    method: str
    route: str
    name: str
    expected: Mapping[str, int]
    build: Callable[["World"], Case]

    @property
    def id(self) -> str:
        return f"{self.method} {self.route}"

    @property
    def says(self) -> str:
        return (self.build.__doc__ or "").strip()


@dataclass(frozen=True)
class ToolEntry:
    """One MCP tool with the outcome per key caller."""

    name: str
    expected: Mapping[str, int]
    build: Callable[["World"], ToolCase]

    @property
    def id(self) -> str:
        return f"tool {self.name}"

    @property
    def says(self) -> str:
        return (self.build.__doc__ or "").strip()


@contextmanager
def stating(entry: Endpoint | ToolEntry):
    """A failure inside names the entry and the behaviour its builder states."""
    try:
        yield
    except AssertionError as exc:
        raise AssertionError(f"{entry.id}: {entry.says}\n{exc}") from exc


ENDPOINTS: list[Endpoint] = []
TOOLS: list[ToolEntry] = []


def endpoint(method: str, route: str, name: str, expected: Mapping[str, int]):
    """Register the decorated builder as the entry of ``method route``.

    Decorators stack: one builder may serve several routes of one view (it
    builds its URL from :meth:`World.call`, which reverses the entry's name).
    """

    def register(build: Callable[["World"], Case]):
        assert build.__doc__, f"{build.__name__}: state the behaviour in a docstring"
        ENDPOINTS.append(Endpoint(method.upper(), route, name, dict(expected), build))
        return build

    return register


def tool(name: str, expected: Mapping[str, int]):
    """Register the decorated builder as the entry of MCP tool ``name``."""

    def register(build: Callable[["World"], ToolCase]):
        assert build.__doc__, f"{build.__name__}: state the behaviour in a docstring"
        TOOLS.append(ToolEntry(name, dict(expected), build))
        return build

    return register


_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def normalize_route(route: str) -> str:
    """A route without converters or regex syntax: ``spaces/<slug>/``.

    ``path()`` routes and the regex ones a DRF router may generate for the
    same URL come out equal, so the registry outlives that change.
    """
    route = _GROUP.sub(r"<\1>", route)
    # Anchors may sit mid-string: an included regex pattern follows a prefix.
    route = route.replace(r"\Z", "").replace("^", "").replace("$", "")
    return _CONVERTER.sub(r"<\1>", route).replace("\\", "")


# --- the world every entry runs in ----------------------------------------------------


@dataclass
class World:
    """The cast, its spaces and the seeded rows; builds the entry's requests."""

    cast: object
    entry: Endpoint | ToolEntry | None = None
    rows: dict = field(default_factory=dict)

    @classmethod
    def build(cls, cast) -> "World":
        world = cls(cast=cast)
        for key, space in (
            ("mine", world.space),
            ("foreign", world.other_space),
            ("far", world.elsewhere),
        ):
            world.rows[key] = world.add(
                f"{MARKS[key]} is the locker code", space=space, user_id=MARKS[key]
            )
        return world

    # the spaces ---------------------------------------------------------------------

    @property
    def team(self):
        return self.cast.team

    @property
    def space(self):
        """``acme/default``: the space the matrix is about."""
        return self.cast.space

    @cached_property
    def other_space(self):
        return Space.objects.get(team__slug="other", slug="default")

    @cached_property
    def elsewhere(self):
        return self.team.spaces.get(slug="elsewhere")

    @property
    def mine(self):
        return self.rows["mine"]

    @property
    def foreign(self):
        return self.rows["foreign"]

    @property
    def far(self):
        return self.rows["far"]

    # rows -----------------------------------------------------------------------------

    def add(self, content: str, *, space=None, **fields):
        """A memory added as the system (a fixed vector: no embedding model)."""
        memory, _ = services.memory_add(
            actor=SYSTEM,
            space=space or self.space,
            data={"content": content, **fields},
            embedding=unit_vector(abs(hash(content)) % 10_000),
        )
        return memory

    def target(self, label: str = "target", **fields):
        """A fresh memory of ``acme/default`` to address by id.

        Its content carries the space's marker (outsiders must not read it);
        its id is not hidden, as the caller names it in the request.
        """
        return self.add(f"{MARKS['mine']} {label}", **fields)

    def hidden_rows(self, *, also: Iterable[str] = ()) -> dict[str, list[str]]:
        """Per caller: ids and markers of the seeded rows of other spaces, and of
        the rows named in ``also`` (``"far"``...: nobody sees them here)."""
        return {
            who: [
                value
                for key, memory in self.rows.items()
                if key != OWN_ROW[who] or key in also
                for value in (str(memory.pk), MARKS[key])
            ]
            for who in CALLERS
        }

    def hidden_content(self) -> dict[str, list[str]]:
        """Per caller: the markers of the seeded rows of other spaces."""
        return {
            who: [MARKS[key] for key in self.rows if key != OWN_ROW[who]]
            for who in CALLERS
        }

    def own_space_label(self, who: str) -> str:
        """``team/space`` of the space ``who`` works in (keys: the key's space)."""
        memory = self.rows[OWN_ROW[who]]
        return f"{memory.space.team.slug}/{memory.space.slug}"

    def shows_own_row(self, who: str, text: str) -> None:
        """A successful list names the seeded row of the caller's own space."""
        own = OWN_ROW[who]
        assert own is not None and str(self.rows[own].pk) in text, (who, text[:300])

    def no_content(self) -> list[str]:
        """Every marker, for everyone: endpoints that never show content."""
        return list(MARKS.values())

    # requests -------------------------------------------------------------------------

    def path(self, **kwargs) -> str:
        """The entry's URL (reversed from its name) with ``kwargs``."""
        return reverse(self.entry.name, kwargs=kwargs or None)

    def call(
        self,
        body=None,
        *,
        params: dict | None = None,
        content_type: str = "application/json",
        **kwargs,
    ) -> Call:
        """A request to the entry's route with its method."""
        url = self.path(**kwargs)
        if params:
            url += "?" + urlencode(params)
        return Call(self.entry.method.lower(), url, body, content_type=content_type)

    def space_call(self, body=None, *, space=None, params=None, **kwargs) -> Call:
        """A request to the entry's route under ``space`` (``acme/default``),
        naming the team with ``?team=`` so a same-slug space of another team
        is never what answers."""
        space = space or self.space
        params = {"team": space.team.slug, **(params or {})}
        return self.call(body, slug=space.slug, params=params, **kwargs)
