"""The permission matrix, written once: every endpoint against every caller.

Given a request (or a function building a fresh one per caller, for requests
that consume their object, such as DELETE) and the expected status for each
caller of the ``cast`` fixture, :func:`check_matrix` sends the request as each
caller and asserts:

* the status is the expected one (401 carries ``WWW-Authenticate``; every
  error is the JSON error body with ``detail`` and ``code``);
* no response — list, detail, stream — ever mentions a hidden row (ids the
  caller must not learn about, per caller or for all).

Callers (see ``tests/conftest.py``): ``anonymous``; ``other_team`` (another
team's key) and ``other_team_user`` (another team's owner), who must not even
learn the space exists (404); ``operator`` (a staff user, member of the other
team: the routing API is theirs, another team's space is not, 404);
``no_object_perm`` (a key of the same team scoped to a different space: 404);
``read_only`` (a read-only key: reads succeed, writes 403); ``viewer``,
``member``, ``owner`` (team members by role); ``writer`` (a read-write key
sent as ``Token``).

The vocabulary of expectations: :func:`reads`, :func:`writes`,
:func:`manages` for the native API; :func:`key_reads`, :func:`key_writes`,
:func:`key_lists` for the surfaces that take API keys only (mem0-compatible
API, MCP); :func:`operates` for the operators' routing API.
"""

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

CALLERS = (
    "anonymous",
    "other_team",
    "other_team_user",
    "operator",
    "no_object_perm",
    "read_only",
    "viewer",
    "member",
    "owner",
    "writer",
)
# Callers that present an API key; the others sign in (or send nothing).
KEY_CALLERS = ("other_team", "no_object_perm", "read_only", "writer")
SESSION_CALLERS = ("other_team_user", "operator", "viewer", "member", "owner")
_OUTSIDERS = {
    "anonymous": 401,
    "other_team": 404,
    "other_team_user": 404,
    "operator": 404,
    "no_object_perm": 404,
}
_INSIDERS = ("read_only", "viewer", "member", "owner", "writer")


def _expect(base: dict[str, int], overrides: dict[str, int]) -> dict[str, int]:
    unknown = set(overrides) - set(CALLERS)
    assert not unknown, f"unknown callers {sorted(unknown)}"
    return {**base, **overrides}


def reads(ok: int = 200, **overrides: int) -> dict[str, int]:
    """Expected statuses of a read: everyone who sees the space gets ``ok``."""
    return _expect({**_OUTSIDERS, **dict.fromkeys(_INSIDERS, ok)}, overrides)


def writes(ok: int = 200, **overrides: int) -> dict[str, int]:
    """Expected statuses of a memory write: read-only key and viewer get 403."""
    return _expect(reads(ok, read_only=403, viewer=403), overrides)


def manages(ok: int = 200, **overrides: int) -> dict[str, int]:
    """Expected statuses of a ``manage_space`` action: only the owner succeeds."""
    return _expect(writes(ok, member=403, writer=403), overrides)


def key_reads(ok: int = 200, **overrides: int) -> dict[str, int]:
    """A read on a key-only surface (mem0, MCP): signed-in users are 401 like
    anonymous; keys that cannot see the space get 404."""
    base = {
        **_OUTSIDERS,
        **dict.fromkeys(SESSION_CALLERS, 401),
        "read_only": ok,
        "writer": ok,
    }
    return _expect(base, overrides)


def key_writes(ok: int = 200, **overrides: int) -> dict[str, int]:
    """A write on a key-only surface: the read-only key gets 403."""
    return _expect(key_reads(ok, read_only=403), overrides)


def key_lists(ok: int = 200, **overrides: int) -> dict[str, int]:
    """A list or search on a key-only surface: every key succeeds, each in the
    space it works in (its own team's ``default``, or its only space)."""
    return _expect(key_reads(ok, other_team=ok, no_object_perm=ok), overrides)


def operates(ok: int = 200, **overrides: int) -> dict[str, int]:
    """The operators' routing API: staff users only; everyone else 403 (401
    without credentials), an API key too, whoever created it."""
    base = {**dict.fromkeys(CALLERS, 403), "anonymous": 401, "operator": ok}
    return _expect(base, overrides)


@dataclass
class Call:
    """One HTTP request of the matrix."""

    method: str
    url: str
    body: object = None
    content_type: str = "application/json"


def send(client, call: Call):
    """Send ``call`` with ``client``; JSON bodies are encoded here."""
    data = call.body
    if data is not None and call.content_type == "application/json":
        data = json.dumps(data)
    return client.generic(
        call.method.upper(),
        call.url,
        data=data if data is not None else "",
        content_type=call.content_type,
    )


def response_text(response) -> str:
    """The whole body of a normal or streaming response, as text."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def check_matrix(
    cast,
    call: Call | Callable[[str], Call],
    expected: Mapping[str, int],
    *,
    hidden: Iterable | Mapping[str, Iterable] = (),
    after: Callable[[str, object], None] | None = None,
) -> dict:
    """Send ``call`` as every caller and assert statuses and hidden rows.

    ``call`` may be a function of the caller's name returning a fresh
    request. ``hidden`` lists ids no caller may see, or maps caller names to
    such ids. ``after(caller, response)`` runs extra checks per caller.
    Returns ``{caller: (response, body text)}``.
    """
    assert set(expected) == set(CALLERS), "give an expectation for every caller"
    results = {}
    failures = []
    for who in CALLERS:
        request = call(who) if callable(call) else call
        response = send(cast.clients[who], request)
        text = response_text(response)
        where = f"{who}: {request.method} {request.url}"
        if response.status_code != expected[who]:
            failures.append(
                f"{where} -> {response.status_code}, expected {expected[who]}: "
                f"{text[:300]}"
            )
            continue
        if response.status_code == 401:
            assert response.has_header("WWW-Authenticate"), where
        if response.status_code >= 400:
            body = json.loads(text)
            assert body.get("detail") and body.get("code"), (where, body)
        secret_ids = hidden.get(who, ()) if isinstance(hidden, Mapping) else hidden
        for row_id in secret_ids:
            assert str(row_id) not in text, f"{where} leaked hidden row {row_id}"
        if after is not None:
            after(who, response)
        results[who] = (response, text)
    assert not failures, "\n".join(failures)
    return results
