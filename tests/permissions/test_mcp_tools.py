"""The permission matrix of every MCP tool: each key kind against a real MCP
server (uvicorn in a thread), outcomes and hidden rows checked per tool."""

import pytest

from tests.mcp_support import run
from tests.permissions import TOOLS
from tests.permissions.mcp_tools import check_tools, tool_outcome

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("entry", TOOLS, ids=lambda entry: entry.name)
def test_every_tool_answers_every_key_as_its_entry_declares(entry, mcp_url, world):
    """The entry's docstring says what; the registry says which key gets what."""
    check_tools(mcp_url, world, entry)


def test_a_key_naming_a_space_it_may_not_see_finds_no_such_space(mcp_url, world):
    """The key scoped to ``acme/elsewhere`` asks for ``default`` by header:
    every tool answers that the space is not found, and nothing is stored."""
    secret = world.cast.secrets["no_object_perm"]
    answers = {}
    for entry in TOOLS:
        world.entry = entry
        case = entry.build(world)
        arguments = case.arguments
        if callable(arguments):
            arguments = arguments("no_object_perm")
        counts = world.space.memories.count()
        status, _, text = run(
            tool_outcome(
                mcp_url,
                secret,
                entry.name,
                arguments,
                headers={"X-MemoryHub-Space": "default"},
            )
        )
        answers[entry.name] = (status, "space 'default' not found" in text)
        assert world.space.memories.count() == counts, entry.name
    assert answers == dict.fromkeys(answers, (404, True))
