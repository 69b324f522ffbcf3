"""The MCP ``add_memory`` tool with ``infer``: the space's model (the scripted
test fixture of tests/scripted_llm.py) decides what to keep; the agent gets
what it did, as structured content and as delimited data."""

from accounts.actors import SYSTEM
from memories import services
from memories.models import ExtractionEvent, Memory
from tests.mcp.test_server import keys  # noqa: F401 (fixture)
from tests.mcp_support import call, run, session


def test_add_memory_with_infer_extracts_and_updates(mcp_url, keys, llm):  # noqa: F811
    services.memory_add(
        actor=SYSTEM,
        space=keys["space"],
        data={"content": "Lives in Lisbon", "user_id": "nina"},
    )
    llm.on("facts", answer={"facts": [{"text": "Moved to Porto"}, {"text": "Runs"}]})
    llm.on(
        "decisions",
        answer={
            "decisions": [
                {
                    "fact": 0,
                    "event": "UPDATE",
                    "memory": "m1",
                    "text": "Lives in Porto",
                },
                {"fact": 1, "event": "ADD"},
            ]
        },
    )

    async def scenario():
        async with session(mcp_url, keys["writer"]) as client:
            return await call(
                client,
                "add_memory",
                content="I moved to Porto and took up running",
                user_id="nina",
                infer=True,
            )

    outcome, text, error = run(scenario())
    assert not error, text
    assert outcome["status"] == "SUCCEEDED" and outcome["memory"] is None
    assert [(r["event"], r["content"]) for r in outcome["results"]] == [
        ("UPDATE", "Lives in Porto"),
        ("ADD", "Runs"),
    ]
    assert outcome["results"][0]["previous_content"] == "Lives in Lisbon"
    assert 'event="UPDATE"' in text and "<memoryhub-data" in text
    assert Memory.objects.filter(user_id="nina").count() == 2


def test_infer_follows_the_space_and_needs_add(mcp_url, keys, llm):  # noqa: F811
    services.extraction_settings_update(
        actor=SYSTEM, space=keys["space"], infer_by_default=True
    )
    llm.on("facts", answer={"facts": [{"text": "Likes tea"}]})

    async def scenario():
        async with session(mcp_url, keys["writer"]) as client:
            queued = await call(
                client, "add_memory", content="tea please", async_mode=True
            )
        async with session(mcp_url, keys["read_only"]) as reader:
            refused = await call(reader, "add_memory", content="x", infer=True)
        return queued, refused

    (queued, _, error), (_, text, refused) = run(scenario())
    assert not error and queued["status"] == "PENDING"
    assert ExtractionEvent.objects.get(pk=queued["extraction_id"]).surface == "mcp"
    assert refused and "you may not add memory" in text


def test_a_failing_model_is_a_tool_error_saying_why(mcp_url, keys, llm):  # noqa: F811
    llm.on("facts", status=500)

    async def scenario():
        async with session(mcp_url, keys["writer"]) as client:
            return await call(client, "add_memory", content="x", infer=True)

    _, text, error = run(scenario())
    assert error and "answered HTTP 500" in text
