"""Matrix entries of the MCP tools, and the runner that calls them per key.

MCP authenticates by API key only: anonymous is a 401 before MCP; each key
works in its own space, as on the mem0-compatible API. A tool's outcome reads
as a status: a result is 200, a "you may not" error 403 (the read-only key
writing), a "not found" error 404 (naming a row of a space the key cannot
see). Another team's key, or one scoped to another space, lists, searches and
adds in its own space and never reaches ``acme/default``.
"""

import json
from collections.abc import Callable

from memories.models import Memory, MemoryState
from tests.mcp_support import call, post_jsonrpc, run, session
from tests.permission_matrix import KEY_CALLERS, key_lists, key_reads, key_writes
from tests.permissions.registry import MARKS, OWN_ROW, ToolCase, stating, tool

MCP_CALLERS = ("anonymous", *KEY_CALLERS)
GRAPH_APP = "mcp-graph"
IN_OWN_SPACE = {"other_team": 200, "no_object_perm": 200}


def outcome(text: str, is_error: bool) -> int:
    """A tool result as a status (500: an error the matrix does not expect)."""
    if not is_error:
        return 200
    if "you may not" in text:
        return 403
    if "not found" in text:
        return 404
    return 500


async def tool_outcome(
    url: str, secret: str | None, name: str, arguments: dict, headers=None
):
    """(status, structured content, text) of one call of tool ``name`` with
    ``secret`` (``None``: no key at all) and extra HTTP ``headers``."""
    if secret is None:
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments},
        }
        response = await post_jsonrpc(url, body, headers)
        assert response.headers.get("www-authenticate", "").startswith("Bearer")
        return response.status_code, None, response.text
    async with session(url, secret, headers=headers) as client:
        structured, text, is_error = await call(client, name, **arguments)
    return outcome(text, is_error), structured, text


def check_tools(url: str, world, entry) -> dict:
    """Call ``entry``'s tool as every MCP caller; assert outcomes and hidden rows.

    Returns ``{caller: (status, structured content, text)}``.
    """
    world.entry = entry
    case = entry.build(world)
    hidden = world.hidden_rows() if case.hidden is None else case.hidden
    results, failures = {}, []
    with stating(entry):
        for who in MCP_CALLERS:
            arguments = case.arguments
            if callable(arguments):
                arguments = arguments(who)
            secret = world.cast.secrets.get(who)
            status, structured, text = run(
                tool_outcome(url, secret, entry.name, arguments)
            )
            if status != entry.expected[who]:
                failures.append(
                    f"{who}: {entry.name} -> {status}, expected "
                    f"{entry.expected[who]}: {text[:300]}"
                )
                continue
            seen = text + json.dumps(structured)
            secret_ids = hidden.get(who, ()) if isinstance(hidden, dict) else hidden
            for value in secret_ids:
                assert str(value) not in seen, f"{who}: {entry.name} leaked {value}"
            if case.after is not None:
                case.after(who, status, structured)
            results[who] = (status, structured, text)
        assert not failures, "\n".join(failures)
        if case.then is not None:
            case.then(results)
    return results


# --- seeding the knowledge graph ------------------------------------------------------


def graph_record(world, record: dict, *, space=None) -> Memory:
    """A record of the official server's graph, stored as the graph tools do."""
    return world.add(
        json.dumps(record),
        space=space,
        app_id=GRAPH_APP,
        metadata={"mcp_graph": record["type"]},
    )


def seed_graph(world) -> None:
    """``Atlas`` in every space, observed with that space's marker; ``AcmeOnly``
    in ``acme/default`` only."""
    for key, memory in world.rows.items():
        atlas = {"type": "entity", "name": "Atlas", "entityType": "place"}
        graph_record(world, atlas, space=memory.space)
        graph_record(
            world,
            {"type": "observation", "entityName": "Atlas", "content": MARKS[key]},
            space=memory.space,
        )
    graph_record(world, {"type": "entity", "name": "AcmeOnly", "entityType": "t"})
    graph_record(
        world,
        {"type": "observation", "entityName": "AcmeOnly", "content": MARKS["mine"]},
    )


def _listed(world):
    """An ``after`` check: a successful read shows the caller's own space."""

    def check(who, status, structured):
        if status == 200:
            assert MARKS[OWN_ROW[who]] in json.dumps(structured), who

    return check


def _stored_in_own_space(world):
    """An ``after`` check: a successful write landed in the caller's space."""

    def check(who, status, structured):
        if status == 200:
            latest = Memory.objects.latest("created_at")
            label = f"{latest.space.team.slug}/{latest.space.slug}"
            assert label == world.own_space_label(who), who

    return check


def _changed_only_by_the_writer(rows: dict):
    """An ``after`` check: ``rows[who]`` changed (or went) only for the writer."""

    def check(who, status, structured):
        memory = Memory.objects.get(pk=rows[who].pk)
        changed = memory.state == MemoryState.DELETED or memory.version > 1
        assert changed == (who == "writer"), who

    return check


# --- the memory tools -----------------------------------------------------------------


@tool("add_memory", key_writes(**IN_OWN_SPACE))
def add_memory(w):
    """Adding stores in the key's own space; the read-only key may not."""
    return ToolCase(
        lambda who: {"content": f"added by {who}", "user_id": f"m-{who}"},
        after=_stored_in_own_space(w),
    )


@tool("search_memories", key_lists())
def search_memories(w):
    """Search finds the key's own space's rows, never another space's."""
    return ToolCase({"query": "locker code", "mode": "keyword"}, after=_listed(w))


@tool("list_memories", key_lists())
def list_memories(w):
    """Listing shows the key's own space only."""
    return ToolCase({"limit": 100}, after=_listed(w))


@tool("get_memory", key_reads())
def get_memory(w):
    """Another space's memory is not found; acme's keys read it."""
    memory = w.target("read by id")
    return ToolCase({"memory_id": str(memory.pk)})


@tool("update_memory", key_writes())
def update_memory(w):
    """Only acme's read-write key changes an acme memory."""
    rows = {}

    def arguments(who):
        rows[who] = w.target(f"to update for {who}")
        return {"memory_id": str(rows[who].pk), "content": "changed"}

    return ToolCase(arguments, after=_changed_only_by_the_writer(rows))


@tool("delete_memory", key_writes())
def delete_memory(w):
    """Only acme's read-write key deletes an acme memory."""
    rows = {}

    def arguments(who):
        rows[who] = w.target(f"to delete for {who}")
        return {"memory_id": str(rows[who].pk)}

    return ToolCase(arguments, after=_changed_only_by_the_writer(rows))


# --- the knowledge-graph tools --------------------------------------------------------


@tool("create_entities", key_writes(**IN_OWN_SPACE))
def create_entities(w):
    """Entities are created in the key's own graph; the read-only key may not."""
    seed_graph(w)
    return ToolCase(
        lambda who: {
            "entities": [{"name": f"E-{who}", "entityType": "t", "observations": []}]
        },
        after=_stored_in_own_space(w),
    )


@tool("create_relations", key_writes(**IN_OWN_SPACE))
def create_relations(w):
    """Relations are created in the key's own graph; the read-only key may not."""
    seed_graph(w)
    return ToolCase(
        lambda who: {
            "relations": [{"from": "Atlas", "to": f"E-{who}", "relationType": "knows"}]
        },
        after=_stored_in_own_space(w),
    )


@tool("add_observations", key_writes())
def add_observations(w):
    """An entity of acme's graph is not found by other spaces' keys."""
    seed_graph(w)
    return ToolCase(
        lambda who: {
            "observations": [{"entityName": "AcmeOnly", "contents": [f"by {who}"]}]
        }
    )


def _acme_records(w, records_for) -> tuple[dict, Callable[[str], None]]:
    """Per caller, fresh records in acme's graph built by ``records_for(who)``;
    returns them (the last one per caller is the one to watch) and the check."""
    rows = {}

    def seed(who):
        for record in records_for(who):
            rows[who] = graph_record(w, record)

    return rows, seed


# Deleting in the graph follows the official server: names a graph does not
# hold are ignored. Other spaces' keys succeed on their own (empty) graph and
# acme's records stay; the read-only key is refused.


@tool("delete_entities", key_writes(**IN_OWN_SPACE))
def delete_entities(w):
    """Only acme's read-write key deletes acme's entities."""
    seed_graph(w)
    rows, seed = _acme_records(
        w, lambda who: [{"type": "entity", "name": f"Doomed-{who}", "entityType": "t"}]
    )

    def arguments(who):
        seed(who)
        return {"entityNames": [f"Doomed-{who}"]}

    return ToolCase(arguments, after=_changed_only_by_the_writer(rows))


@tool("delete_observations", key_writes(**IN_OWN_SPACE))
def delete_observations(w):
    """Only acme's read-write key deletes acme's observations."""
    seed_graph(w)
    rows, seed = _acme_records(
        w,
        lambda who: [
            {"type": "entity", "name": f"Seen-{who}", "entityType": "t"},
            {"type": "observation", "entityName": f"Seen-{who}", "content": "obs"},
        ],
    )

    def arguments(who):
        seed(who)
        return {"deletions": [{"entityName": f"Seen-{who}", "observations": ["obs"]}]}

    return ToolCase(arguments, after=_changed_only_by_the_writer(rows))


@tool("delete_relations", key_writes(**IN_OWN_SPACE))
def delete_relations(w):
    """Only acme's read-write key deletes acme's relations."""
    seed_graph(w)

    def relation(who):
        return {"from": "AcmeOnly", "to": "Atlas", "relationType": f"r-{who}"}

    rows, seed = _acme_records(w, lambda who: [{"type": "relation", **relation(who)}])

    def arguments(who):
        seed(who)
        return {"relations": [relation(who)]}

    return ToolCase(arguments, after=_changed_only_by_the_writer(rows))


@tool("read_graph", key_lists())
def read_graph(w):
    """Each key reads its own space's graph, never another's."""
    seed_graph(w)
    return ToolCase({}, after=_listed(w))


@tool("search_nodes", key_lists())
def search_nodes(w):
    """Searching nodes stays in the key's own graph."""
    seed_graph(w)
    return ToolCase({"query": "atlas"}, after=_listed(w))


@tool("open_nodes", key_lists())
def open_nodes(w):
    """Opening nodes by name finds only the key's own graph's nodes."""
    seed_graph(w)
    return ToolCase({"names": ["Atlas", "AcmeOnly"]}, after=_listed(w))
