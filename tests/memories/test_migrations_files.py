"""Migrations from files: mem0's export, OpenMemory's backup archive, the
official MCP memory server's JSONL file and MemoryHub's own JSON Lines, into
a space — through the REST API, the command and the team app's background
import — and a space out again in mem0's export shape."""

import gzip
import io
import json
import uuid
import zipfile

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.urls import reverse

from accounts.actors import SYSTEM, actor_for_user
from memories import services
from memories.encryption.sealing import memory_content
from memories.models import ImportJob, Memory, MemoryEvent, MemoryState
from memories.selectors.graph import graph_load
from memories.services.imports import import_job_create
from routing.backends.base import Record
from routing.backends.registry import adapter_for
from tests.conftest import client_for_user
from tests.factories import make_member, make_space, unit_vector
from tests.routing_helpers import graph_call, graph_names, mcp_backend

pytestmark = pytest.mark.django_db


def add(space, text, seed=1, **fields):
    memory, _ = services.memory_add(
        actor=SYSTEM,
        space=space,
        data={"content": text, **fields},
        embedding=unit_vector(seed),
    )
    return memory


def post_file(client, space, data: bytes, fmt: str | None, content_type: str):
    url = f"/api/v1/spaces/{space.slug}/import/"
    if fmt:
        url += f"?format={fmt}"
    return client.generic("POST", url, data, content_type=content_type)


def active(space) -> dict[str, Memory]:
    return {
        memory_content(m, space): m
        for m in Memory.objects.filter(space=space).exclude(state=MemoryState.DELETED)
    }


@pytest.fixture
def owner(space):
    return make_member(space.team, "owner")


@pytest.mark.parametrize("fmt", ["memoryhub", "auto"])
def test_memoryhubs_own_export_round_trip_with_a_format(space, owner, fmt):
    """MemoryHub's JSON Lines named by ``?format=`` (any JSON Lines media
    type): the same memories, line numbers kept, nothing doubled again."""
    add(space, "Lia grows tomatoes", 1, user_id="lia", metadata={"plot": 4})
    add(space, "The greenhouse opens at six", 2, categories=["hours"])
    client = client_for_user(owner)
    data = b"".join(
        client.get(f"/api/v1/spaces/{space.slug}/export/").streaming_content
    )
    target = make_space(space.team, "arrivals")
    body = data.replace(b"\n", b"\n\n", 1) + b"{broken\n"
    result = post_file(client, target, body, fmt, "application/x-ndjson").json()
    assert result["format"] == "memoryhub"
    assert [(r["line"], r["status"]) for r in result["results"]] == [
        (1, "created"),
        (3, "created"),
        (4, "error"),
    ]
    assert set(active(target)) == set(active(space))
    assert active(target)["Lia grows tomatoes"].metadata == {"plot": 4}
    again = post_file(client, target, data, fmt, "application/jsonl").json()
    assert (again["created"], again["duplicates"]) == (0, 2)


def test_mem0_export_round_trip_through_the_api(space, owner):
    add(space, "Lia grows tomatoes", 1, user_id="lia", metadata={"plot": 4})
    add(
        space,
        "The greenhouse opens at six",
        2,
        agent_id="gardener",
        categories=["hours"],
    )
    client = client_for_user(owner)
    exported = client.get(f"/api/v1/spaces/{space.slug}/export/", {"format": "mem0"})
    assert exported["Content-Type"] == "application/json"
    document = json.loads(b"".join(exported.streaming_content))
    assert document["count"] == 2
    assert {m["memory"] for m in document["memories"]} == {
        "Lia grows tomatoes",
        "The greenhouse opens at six",
    }

    target = make_space(space.team, "arrivals")
    body = json.dumps(document).encode()
    response = post_file(client, target, body, "mem0", "application/json")
    assert response.status_code == 200, response.json()
    result = response.json()
    assert (result["format"], result["created"], result["errors"]) == ("mem0", 2, 0)
    assert [r["line"] for r in result["results"]] == ["memories[1]", "memories[2]"]
    arrived = active(target)
    tomatoes = arrived["Lia grows tomatoes"]
    assert tomatoes.user_id == "lia" and tomatoes.metadata["plot"] == 4
    assert tomatoes.metadata["mem0_id"] in {m["id"] for m in document["memories"]}
    assert arrived["The greenhouse opens at six"].categories == ["hours"]
    # The same file again: recognised (auto) and nothing doubled.
    again = post_file(client, target, body, "auto", "application/json").json()
    assert again["format"] == "mem0"
    assert len(active(target)) == 2


MEM0_MEMORIES = [
    {
        "id": "0b7e3c1a-5d2f-4c8e-9a61-3f0d2b9e7a10",
        "memory": "Ines climbs on Thursdays",
        "user_id": "ines",
        "agent_id": None,
        "app_id": "coach",
        "run_id": None,
        "hash": "9c1d",
        "metadata": {"source": "chat"},
        "categories": ["sport"],
        "immutable": True,
        "expiration_date": "2999-12-31",
        "created_at": "2026-03-01T10:00:00-08:00",
        "updated_at": "2026-03-02T10:00:00-08:00",
        "owner": "someone",
        "organization": "org",
    },
    {"id": "m2", "memory": "Old voucher code", "expiration_date": "2001-01-01"},
    {"id": "m3", "memory": "Odd date", "expiration_date": "next tuesday"},
]


@pytest.mark.parametrize(
    ("shape", "labels"),
    [
        ("document", ["memories[1]", "memories[2]", "memories[3]"]),
        ("results", ["memories[1]", "memories[2]", "memories[3]"]),
        ("list", ["[1]", "[2]", "[3]"]),
        ("jsonl", [1, 2, 3]),
    ],
)
def test_every_shape_of_a_mem0_export_imports_the_same(space, owner, shape, labels):
    """get_memory_export's document (``memories`` or ``results``), a bare list
    and JSON Lines of mem0 memory objects: ``memory`` is the content, the
    subject ids, metadata, categories, immutability and expiry are kept, the
    mem0 id goes to ``metadata.mem0_id``, server-side fields are ignored; an
    expired memory is skipped, a bad date is that item's error."""
    if shape == "jsonl":
        body = "\n".join(json.dumps(m) for m in MEM0_MEMORIES).encode()
    elif shape == "list":
        body = json.dumps(MEM0_MEMORIES).encode()
    else:
        key = "results" if shape == "results" else "memories"
        body = json.dumps({key: MEM0_MEMORIES, "count": 3}).encode()
    client = client_for_user(owner)
    result = post_file(client, space, body, "mem0", "application/json").json()
    assert [(r["line"], r["status"]) for r in result["results"]] == list(
        zip(labels, ["created", "skipped", "error"], strict=True)
    )
    assert result["results"][1]["note"] == "skipped: expired in mem0"
    assert result["results"][2]["field"] == "expiration_date"
    assert "Odd date" not in json.dumps(result)
    (memory,) = active(space).values()
    assert (memory.user_id, memory.app_id, memory.agent_id) == ("ines", "coach", "")
    assert memory.metadata == {
        "source": "chat",
        "mem0_id": "0b7e3c1a-5d2f-4c8e-9a61-3f0d2b9e7a10",
    }
    assert memory.categories == ["sport"] and memory.immutable
    assert memory.expires_at.date().isoformat() == "2999-12-31"
    again = post_file(client, space, body, "auto", "application/json").json()
    assert (again["format"], again["created"], again["duplicates"]) == ("mem0", 0, 1)


def openmemory_zip(*, with_logical: bool = True) -> bytes:
    rows = [
        (
            "11111111-1111-1111-1111-111111111111",
            "Uses vim keybindings",
            "active",
            ["tools"],
        ),
        ("22222222-2222-2222-2222-222222222222", "Was learning Rust", "archived", []),
        ("33333333-3333-3333-3333-333333333333", "Prefers dark mode", "paused", ["ui"]),
        ("44444444-4444-4444-4444-444444444444", "Old phone number", "deleted", []),
    ]
    relational = {
        "user": {"id": "u-internal", "user_id": "mira", "name": "Mira"},
        "apps": [{"id": "app-1", "name": "cursor"}],
        "categories": [
            {"id": "c-tools", "name": "tools"},
            {"id": "c-ui", "name": "ui"},
        ],
        "memories": [
            {
                "id": mid,
                "user_id": "u-internal",
                "app_id": "app-1",
                "content": text,
                "metadata": {"source": "openmemory"},
                "state": state,
                "category_ids": [f"c-{c}" for c in cats],
            }
            for mid, text, state, cats in rows
        ],
        "export_meta": {"version": "1"},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("memories.json", json.dumps(relational, indent=2))
        if with_logical:
            lines = "".join(
                json.dumps(
                    {
                        "id": mid,
                        "content": text,
                        "metadata": {"source": "openmemory"},
                        "state": state,
                        "app": "cursor",
                        "categories": cats,
                    }
                )
                + "\n"
                for mid, text, state, cats in rows
            )
            archive.writestr("memories.jsonl.gz", gzip.compress(lines.encode()))
    return buffer.getvalue()


@pytest.mark.parametrize("with_logical", [True, False])
def test_openmemory_backup_archive(space, owner, with_logical):
    response = post_file(
        client_for_user(owner),
        space,
        openmemory_zip(with_logical=with_logical),
        "openmemory",
        "application/zip",
    )
    assert response.status_code == 200, response.json()
    result = response.json()
    assert (result["created"], result["skipped"], result["errors"]) == (3, 1, 0)
    skipped = [r for r in result["results"] if r["status"] == "skipped"]
    assert skipped[0]["note"] == "skipped: deleted in OpenMemory"
    arrived = active(space)
    assert set(arrived) == {
        "Uses vim keybindings",
        "Was learning Rust",
        "Prefers dark mode",
    }
    vim = arrived["Uses vim keybindings"]
    assert (vim.user_id, vim.app_id, vim.categories) == ("mira", "cursor", ["tools"])
    assert vim.state == MemoryState.ACTIVE
    assert vim.metadata == {
        "source": "openmemory",
        "openmemory_id": "11111111-1111-1111-1111-111111111111",
    }
    assert arrived["Was learning Rust"].state == MemoryState.ARCHIVED
    assert arrived["Prefers dark mode"].state == MemoryState.ARCHIVED
    again = post_file(
        client_for_user(owner),
        space,
        openmemory_zip(with_logical=with_logical),
        "auto",
        "application/zip",
    ).json()
    assert (again["format"], again["created"], again["duplicates"]) == (
        "openmemory",
        0,
        3,
    )
    assert len(active(space)) == 3


@pytest.mark.parametrize("fmt", ["openmemory", "auto"])
def test_openmemorys_memories_json_on_its_own(space, owner, fmt):
    """Someone who unzipped the backup sends memories.json: the same import
    (labels ``memories[n]``), not mistaken for a mem0 export."""
    with zipfile.ZipFile(io.BytesIO(openmemory_zip())) as archive:
        data = archive.read("memories.json")
    result = post_file(
        client_for_user(owner), space, data, fmt, "application/json"
    ).json()
    assert (result["format"], result["created"], result["skipped"]) == (
        "openmemory",
        3,
        1,
    )
    assert result["results"][0]["line"] == "memories[1]"
    vim = active(space)["Uses vim keybindings"]
    assert (vim.user_id, vim.app_id, vim.categories) == ("mira", "cursor", ["tools"])


def test_an_archive_of_archived_memories_imported_twice_adds_nothing(space, owner):
    """Adds deduplicate against active memories only; an archived memory
    arriving again is found among the archived ones."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "export/memories.json",
            json.dumps(
                {
                    "user": {"user_id": "mira"},
                    "memories": [
                        {"id": "a1", "content": "Lived in Porto", "state": "archived"}
                    ],
                }
            ),
        )
    client = client_for_user(owner)
    first = post_file(client, space, buffer.getvalue(), "auto", "application/zip")
    second = post_file(client, space, buffer.getvalue(), "auto", "application/zip")
    assert first.json()["created"] == 1
    assert (second.json()["created"], second.json()["duplicates"]) == (0, 1)
    assert second.json()["results"][0]["id"] == first.json()["results"][0]["id"]
    (memory,) = Memory.objects.filter(space=space)
    assert memory.state == MemoryState.ARCHIVED


def test_the_mcp_memory_servers_file_becomes_the_spaces_graph(space, owner, tmp_path):
    backend = mcp_backend(tmp_path, "source")
    graph_call(
        backend,
        "create_entities",
        {
            "entities": [
                {
                    "name": "Ada",
                    "entityType": "person",
                    "observations": ["wrote notes", "liked maths"],
                },
                {
                    "name": "Engine",
                    "entityType": "machine",
                    "observations": ["analytical"],
                },
            ]
        },
    )
    graph_call(
        backend,
        "create_relations",
        {"relations": [{"from": "Ada", "to": "Engine", "relationType": "programmed"}]},
    )
    data = (tmp_path / "source.jsonl").read_bytes()  # what the server wrote
    client = client_for_user(owner)
    response = post_file(client, space, data, "auto", "application/octet-stream")
    assert response.status_code == 200, response.json()
    result = response.json()
    assert (result["format"], result["created"], result["errors"]) == ("mcp", 3, 0)
    graph = graph_load(actor=SYSTEM, space=space, surface="api")
    assert set(graph.entities) == {"Ada", "Engine"}
    assert {o["content"] for o in graph.observations["Ada"]} == {
        "wrote notes",
        "liked maths",
    }
    assert [(r["from"], r["to"], r["relationType"]) for r in graph.relations] == [
        ("Ada", "Engine", "programmed")
    ]
    again = post_file(client, space, data, "mcp", "application/octet-stream").json()
    assert (again["created"], again["duplicates"]) == (0, 3)


@override_settings(MEMORY_MAX_CONTENT_CHARS=120)
def test_a_graph_record_the_space_refuses_fails_only_its_line(space, owner):
    """An observation over the length limit: that entity's line is an error
    and none of it is stored; the other lines of the part go in."""
    lines = [
        {"type": "entity", "name": "Ada", "entityType": "person",
         "observations": ["wrote notes"]},
        {"type": "entity", "name": "Bo", "entityType": "person",
         "observations": ["short", "x" * 200]},
        {"type": "relation", "from": "Ada", "to": "Bo", "relationType": "knows"},
    ]  # fmt: skip
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    result = post_file(
        client_for_user(owner), space, data, "mcp", "application/octet-stream"
    ).json()
    assert [(r["line"], r["status"]) for r in result["results"]] == [
        (1, "created"),
        (2, "error"),
        (3, "created"),
    ]
    assert "x" * 50 not in json.dumps(result)
    graph = graph_load(actor=SYSTEM, space=space, surface="api")
    assert set(graph.entities) == {"Ada"}
    assert "short" not in {
        o["content"] for obs in graph.observations.values() for o in obs
    }


def test_memoryhubs_own_copies_in_an_mcp_file_come_back_as_memories(
    space, owner, tmp_path
):
    """A file an ``mcp_memory`` backend wrote holds ``memoryhub:<id>`` entities:
    each is a memory again (its observation the content), not a graph entity;
    another writer's entity joins the graph, and a relation to a copy (which
    has no entity here) is skipped with a note."""
    backend = mcp_backend(tmp_path, "replica")
    adapter_for(backend).add_many(
        [
            Record(memory_id=str(uuid.uuid4()), space_uuid="s", content=text)
            for text in ("Kai prefers tea", "The lab closes at nine")
        ]
    )
    copy = graph_names(backend)[0]  # "memoryhub:<id>"
    graph_call(
        backend,
        "create_entities",
        {"entities": [{"name": "Kai", "entityType": "person", "observations": []}]},
    )
    graph_call(
        backend,
        "create_relations",
        {"relations": [{"from": copy, "to": "Kai", "relationType": "about"}]},
    )
    data = (tmp_path / "replica.jsonl").read_bytes()  # what the server wrote
    client = client_for_user(owner)
    result = post_file(client, space, data, "auto", "application/octet-stream").json()
    assert result["format"] == "mcp"
    assert (result["created"], result["skipped"], result["errors"]) == (3, 1, 0)
    assert [r["status"] for r in result["results"]] == [
        "created",
        "created",
        "created",
        "skipped",
    ]
    assert "MemoryHub copy" in result["results"][3]["note"]
    arrived = active(space)
    assert arrived["Kai prefers tea"].metadata["mcp_entity"].startswith("memoryhub:")
    assert "The lab closes at nine" in arrived
    graph = graph_load(actor=SYSTEM, space=space, surface="api")
    assert set(graph.entities) == {"Kai"} and graph.relations == []
    again = post_file(client, space, data, "mcp", "application/octet-stream").json()
    assert (again["created"], again["duplicates"], again["skipped"]) == (0, 3, 1)


@pytest.mark.parametrize(
    ("fmt", "data", "content_type", "field"),
    [
        ("mem0", b"PK\x03\x04not really", "application/zip", "file"),
        ("openmemory", b"PK\x03\x04broken zip", "application/zip", "file"),
        ("openmemory", b'{"memories": []}', "application/json", "file"),
        ("mem0", b'{"records": []}', "application/json", "file"),
        (
            "mcp",
            b'{"content": "not a graph line"}\n',
            "application/octet-stream",
            "file",
        ),
        ("auto", b"just some text\n", "application/octet-stream", "file"),
        ("yaml", b"{}", "application/json", "format"),
    ],
)
def test_a_file_in_the_wrong_format_is_a_400_naming_the_field(
    space, owner, fmt, data, content_type, field
):
    response = post_file(client_for_user(owner), space, data, fmt, content_type)
    assert response.status_code == 400, response.content
    assert field in json.dumps(response.json())
    assert not Memory.objects.filter(space=space).exists()


@override_settings(IMPORT_MAX_BYTES=10_000)
def test_a_zip_bomb_is_refused_before_it_unpacks(space, owner):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("memories.json", b"{" + b" " * 5_000_000 + b"}")
    data = buffer.getvalue()
    assert len(data) < 10_000  # small on the wire, 5 MB unpacked
    response = post_file(
        client_for_user(owner), space, data, "openmemory", "application/zip"
    )
    assert response.status_code == 400
    assert "MEMORYHUB_IMPORT_MAX_BYTES" in response.json()["detail"]
    assert not Memory.objects.filter(space=space).exists()


def damaged(zip_bytes: bytes, member: str) -> bytes:
    """``zip_bytes`` with bytes inside ``member``'s compressed data flipped: the
    directory still reads, the member fails only when it is unpacked."""
    data = bytearray(zip_bytes)
    start = data.index(member.encode()) + len(member) + 5
    for index in range(start, start + 20):
        data[index] ^= 0xFF
    return bytes(data)


def deflated(**members: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name.replace("_", "."), data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            damaged(deflated(memories_json=b'{"memories": []}' * 200), "memories.json"),
            id="damaged member",
        ),
        pytest.param(
            deflated(memories_jsonl_gz=gzip.compress(b'{"content": "x"}\n')[:-6]),
            id="truncated gzip",
        ),
        pytest.param(
            deflated(memories_json=b"[" * 100_000 + b"]" * 100_000),
            id="nesting too deep",
        ),
        pytest.param(deflated(memories_json=b"[]"), id="not an object"),
    ],
)
def test_a_broken_archive_is_a_400_naming_the_file(space, owner, data):
    for fmt in ("openmemory", "auto"):
        response = post_file(
            client_for_user(owner), space, data, fmt, "application/zip"
        )
        assert response.status_code == 400, response.content
        assert response.json()["field"] == "file"
    assert not Memory.objects.filter(space=space).exists()


def test_odd_values_in_an_openmemory_export_fail_only_their_item(space, owner):
    """Ids, category ids and states of unexpected types are that item's error
    or are left out; they never fail the file."""
    export = {
        "user": {"user_id": "mira"},
        "apps": [{"id": ["x"], "name": "a"}, "junk", {"id": "app-1", "name": 5}],
        "categories": [{"id": {"k": 1}, "name": "c"}],
        "memories": [
            {"id": "1", "content": "Kept", "app_id": ["x"], "category_ids": 5},
            {"id": "2", "content": "Odd state", "state": ["active"]},
            {"id": "3", "content": "More", "category_ids": [["c"], "c-1"]},
        ],
    }
    data = deflated(memories_json=json.dumps(export).encode())
    result = post_file(
        client_for_user(owner), space, data, "openmemory", "application/zip"
    ).json()
    assert [(r["status"], r.get("field")) for r in result["results"]] == [
        ("created", None),
        ("error", "state"),
        ("created", None),
    ]
    assert {m.app_id for m in active(space).values()} == {""}


def test_bad_items_are_reported_by_place_and_do_not_stop_the_others(space, owner):
    document = {"memories": [{"memory": "Noor reads maps"}, {"memory": ""}, "text"]}
    result = post_file(
        client_for_user(owner),
        space,
        json.dumps(document).encode(),
        "mem0",
        "application/json",
    ).json()
    assert [(r["line"], r["status"]) for r in result["results"]] == [
        ("memories[1]", "created"),
        ("memories[2]", "error"),
        ("memories[3]", "error"),
    ]
    assert "Noor reads maps" not in json.dumps(result["results"][1:])


def test_the_command_imports_a_file(space, tmp_path, capsys):
    path = tmp_path / "export.zip"
    path.write_bytes(openmemory_zip())
    call_command("import_memories", space.slug, str(path), "--team", space.team.slug)
    out = capsys.readouterr().out
    assert "(openmemory)" in out and "3 created" in out and "1 skipped" in out
    bad = tmp_path / "bad.json"
    bad.write_text('{"memories": [{"memory": ""}]}')
    with pytest.raises(CommandError, match="could not be imported"):
        call_command("import_memories", space.slug, str(bad), "--team", space.team.slug)


def test_the_command_imports_as_a_person_whose_permission_it_checks(
    space, owner, tmp_path
):
    """``--as``: a viewer is refused and nothing is stored; a member's import
    is theirs in the history."""
    path = tmp_path / "export.zip"
    path.write_bytes(openmemory_zip())
    viewer = make_member(space.team, "viewer")
    argv = ["import_memories", space.slug, str(path), "--team", space.team.slug]
    with pytest.raises(CommandError):
        call_command(*argv, "--as", viewer.username)
    assert not Memory.objects.filter(space=space).exists()
    with pytest.raises(CommandError, match="no active user"):
        call_command(*argv, "--as", "nobody-here")
    call_command(*argv, "--as", owner.username, "--quiet")
    events = MemoryEvent.objects.filter(memory__space=space)
    assert events.count() >= 3
    assert set(events.values_list("actor", flat=True)) == {actor_for_user(owner).label}


def test_the_team_app_imports_any_format_in_the_background(
    space, owner, django_capture_on_commit_callbacks
):
    from django.test import Client

    client = Client()
    client.force_login(owner)
    url = reverse(
        "web:space_import", kwargs={"team_slug": space.team.slug, "slug": space.slug}
    )
    upload = io.BytesIO(openmemory_zip())
    upload.name = "memories_export_mira.zip"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"file": upload, "format": "auto"})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert (job.format, job.state, job.total_lines) == ("openmemory", "succeeded", 4)
    assert (job.created, job.errors, job.processed_lines) == (3, 0, 4)
    page = client.get(response["Location"]).content.decode()
    assert "memories.jsonl.gz:4" in page and "skipped: deleted in OpenMemory" in page
    # A wrong file is refused on the form, and queues nothing.
    bad = io.BytesIO(b"PK\x03\x04nope")
    bad.name = "nope.zip"
    refused = client.post(url, {"file": bad, "format": "openmemory"})
    assert refused.status_code == 400 and ImportJob.objects.count() == 1


def test_the_background_import_resumes_a_part_at_a_time(space, owner):
    from memories.services.imports import import_job_run

    document = {"memories": [{"memory": f"fact {n}"} for n in range(7)]}
    job = import_job_create(
        actor=actor_for_user(owner),
        space=space,
        data=json.dumps(document).encode(),
        format="auto",
    )
    job = import_job_run(job_pk=job.pk, part_lines=3)
    assert (job.state, job.created, len(job.results)) == ("succeeded", 7, 7)
    assert job.payload is None
