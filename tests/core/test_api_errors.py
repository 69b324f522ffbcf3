"""Bad input on every endpoint: the right 4xx with an actionable JSON body,
never a 500."""

import json

import pytest

from accounts.actors import SYSTEM
from memories import services
from memories.models import Memory
from memoryhub.errors import InvalidInput
from tests.api_support import add_memory
from tests.factories import make_member, make_team

pytestmark = pytest.mark.django_db

SPACE = "/api/v1/spaces/default/"


@pytest.fixture
def memory(cast):
    """One memory in acme/default."""
    return add_memory(cast.space, "a memory to poke at")


@pytest.fixture
def owner(cast):
    """The acme owner's client (holds every permission)."""
    return cast.clients["owner"]


def json_endpoints(memory_id, guest) -> list[tuple[str, str, dict]]:
    """(method, url, a valid body) of every endpoint that takes a JSON body."""
    memory = f"{SPACE}memories/{memory_id}/"
    return [
        ("post", "/api/v1/spaces/", {"team": "acme", "slug": "made-here"}),
        ("patch", SPACE, {"name": "Renamed"}),
        ("post", SPACE + "share/", {"user": guest, "permissions": ["view_space"]}),
        ("post", SPACE + "unshare/", {"user": guest}),
        ("post", SPACE + "memories/", {"content": "fine"}),
        ("post", SPACE + "memories/batch/", {"items": [{"content": "fine"}]}),
        ("post", SPACE + "memories/query/", {"filters": {"user_id": "u"}}),
        ("post", SPACE + "memories/delete/", {"filters": {"user_id": "u"}}),
        ("put", memory, {"content": "fine by put"}),
        ("patch", memory, {"content": "fine by patch"}),
        ("post", SPACE + "search/", {"query": "fine"}),
        ("post", "/api/v1/teams/acme/keys/", {"name": "fine"}),
    ]


def get_endpoints(memory_id) -> list[str]:
    """Every GET endpoint."""
    return [
        "/api/v1/teams/",
        "/api/v1/teams/acme/keys/",
        "/api/v1/spaces/",
        SPACE,
        SPACE + "permissions/",
        SPACE + "memories/",
        f"{SPACE}memories/{memory_id}/",
        f"{SPACE}memories/{memory_id}/history/",
        SPACE + "export/",
        "/api/v1/audit/",
    ]


@pytest.fixture
def endpoints(memory):
    """JSON endpoints with a guest user to share with."""
    guest = make_member(make_team("guests"), "member")
    return json_endpoints(memory.pk, guest.username)


def _send(client, method, url, raw, content_type="application/json"):
    return client.generic(method.upper(), url, raw, content_type=content_type)


def _assert_error(response, status, *, code=None, field=None):
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert body["detail"] and body["code"], body
    if code:
        assert body["code"] == code, body
    if field:
        assert body.get("field") == field, body
    return body


def test_valid_bodies_succeed(owner, endpoints):
    """The reference bodies below are valid, so each error is the tested one."""
    for method, url, body in endpoints:
        response = _send(owner, method, url, json.dumps(body))
        assert response.status_code < 300, (method, url, response.content[:300])


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("{not json", None),
        ('{"content": "x",}', None),
        ('{"n": NaN}', None),
        ("[" * 5000 + "]" * 5000, None),
        ('"just a string"', None),
        ("[1, 2]", None),
        ('{"zz_unknown": 1}', "zz_unknown"),
        ('{"content": "nul \\u0000 here"}', "content"),
        ('{"content": "lone \\ud800 surrogate"}', "content"),
        ('{"meta\\u0000": 1}', None),
    ],
)
def test_malformed_bodies_are_400_on_every_endpoint(owner, endpoints, raw, field):
    """Malformed JSON, non-objects, unknown fields and unstorable strings: 400."""
    for method, url, _ in endpoints:
        response = _send(owner, method, url, raw)
        body = _assert_error(response, 400)
        if field:
            assert body["field"] == field, (url, body)
            assert field in body["detail"]


def test_oversize_bodies_are_413_on_every_endpoint(owner, endpoints, settings):
    """Beyond DATA_UPLOAD_MAX_MEMORY_SIZE the answer is 413, not 400 or 500."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    for method, url, body in endpoints:
        padded = json.dumps({**body, "padding": "x" * 4096})
        _assert_error(_send(owner, method, url, padded), 413, code="too_large")


def test_wrong_content_type_is_415(owner, endpoints):
    """Form posts are refused with 415 naming the media type."""
    for method, url, _ in endpoints:
        response = _send(owner, method, url, "content=x", "text/plain")
        _assert_error(response, 415, code="unsupported_media_type")


def test_unknown_query_parameters_are_400_everywhere(owner, endpoints, memory):
    """A misspelt query parameter is reported, not ignored."""
    for url in get_endpoints(memory.pk):
        response = owner.get(url + "?userid=alice")
        assert response.status_code == 400, (url, response.content[:200])
        assert "userid" in response.json()["detail"]
    for method, url, body in endpoints:
        response = _send(owner, method, url + "?bogus=1", json.dumps(body))
        _assert_error(response, 400, field="bogus")


@pytest.mark.parametrize(
    "query",
    [
        "?cursor=garbage",
        "?cursor=" + "A" * 600,
        "?cursor=cD1ub3RhZGF0ZQ%3D%3D",  # a well-formed cursor, forged position
        "?limit=0",
        "?limit=abc",
        "?limit=100000",
    ],
)
def test_bad_pagination_is_400(owner, query):
    """Damaged cursors and limits are 400s that say what to do."""
    for url in ("/api/v1/spaces/", SPACE + "memories/", "/api/v1/audit/"):
        response = owner.get(url + query)
        body = _assert_error(response, 400)
        assert body["field"] in ("cursor", "limit"), body


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({}, 400, "content"),
        ({"content": 123}, 400, "content"),
        ({"content": ""}, 400, "content"),
        ({"content": "   "}, 400, "content"),
        ({"content": "x", "user_id": 42}, 400, "user_id"),
        ({"content": "x", "user_id": "u" * 256}, 400, "user_id"),
        ({"content": "x", "metadata": ["a"]}, 400, "metadata"),
        ({"content": "x", "categories": "travel"}, 400, "categories"),
        ({"content": "x", "categories": [1]}, 400, "categories[0]"),
        ({"content": "x", "expires_at": "soon"}, 400, "expires_at"),
        ({"content": "x", "expires_at": 12}, 400, "expires_at"),
        ({"content": "x", "expires_at": "2001-01-01T00:00:00Z"}, 400, "expires_at"),
        ({"content": "x", "immutable": "yes"}, 400, "immutable"),
        ({"content": "x", "userid": "typo"}, 400, "userid"),
        ({"content": "x" * 16_001}, 413, "content"),
        ({"content": "x", "metadata": {"blob": "y" * 17_000}}, 413, "metadata"),
    ],
)
def test_bad_memory_fields(owner, body, status, field):
    """Wrong types, unknown fields and limits on create: 400 / 413 with the field."""
    response = owner.post(SPACE + "memories/", body, format="json")
    _assert_error(response, status, field=field)
    assert not Memory.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {"content": 5},
        {"state": "deleted"},
        {"immutable": 1},
        {"expected_version": "2"},
        {"metadata": "x"},
        {"user_id": "cannot-change-scope"},
    ],
)
def test_bad_updates_are_400(owner, memory, body):
    """PATCH refuses wrong types, non-editable fields and states."""
    url = f"{SPACE}memories/{memory.pk}/"
    _assert_error(owner.patch(url, body, format="json"), 400)


def test_put_requires_content(owner, memory):
    """PUT replaces: content is required."""
    url = f"{SPACE}memories/{memory.pk}/"
    _assert_error(owner.put(url, {"metadata": {}}, format="json"), 400, field="content")


def test_oversize_batch_is_413(owner, settings):
    """More than MEMORY_MAX_BATCH items is a 413 naming the limit."""
    items = [{"content": f"item {i}"} for i in range(settings.MEMORY_MAX_BATCH + 1)]
    response = owner.post(SPACE + "memories/batch/", {"items": items}, format="json")
    body = _assert_error(response, 413, code="too_large")
    assert str(settings.MEMORY_MAX_BATCH) in body["detail"]
    assert not Memory.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{"items": []}, {"items": "x"}, {"items": [1, "two"]}, {}],
)
def test_bad_batches_are_400_or_per_item(owner, body):
    """An empty or non-list batch is a 400; non-object items are item errors."""
    response = owner.post(SPACE + "memories/batch/", body, format="json")
    if body.get("items") == [1, "two"]:
        assert response.status_code == 200
        assert [r["status"] for r in response.json()["results"]] == ["error"] * 2
    else:
        _assert_error(response, 400, field="items")


@pytest.mark.parametrize(
    "filters",
    [
        {"user_id": {"between": [1, 2]}},
        {"created_at": {"gte": "last tuesday"}},
        {"or": [{"user_id": "a"}]},
        {"AND": "not a list"},
        {"state": "vanished"},
        {"metadata": {"k": {"gt": [1]}}},
    ],
)
def test_bad_filters_are_400(owner, filters):
    """FilterError is a 400 naming the path, on query, bulk delete and search."""
    for url, body in [
        (SPACE + "memories/query/", {"filters": filters}),
        (SPACE + "memories/delete/", {"filters": filters}),
        (SPACE + "search/", {"query": "x", "filters": filters}),
    ]:
        response = owner.post(url, body, format="json")
        body = _assert_error(response, 400)
        assert body["field"].startswith("filters"), body


@pytest.mark.parametrize(
    "url",
    [
        SPACE + "memories/not-a-uuid/",
        SPACE + "memories/00000000-0000-0000-0000-000000000000/",
        SPACE + "memories/00000000-0000-0000-0000-000000000000/history/",
        "/api/v1/spaces/no-such-space/memories/",
        "/api/v1/spaces/bad%20slug/",
        "/api/v1/teams/acme/keys/99999999999999999999/",
        "/api/v1/nothing-here/",
    ],
)
def test_unknown_objects_and_urls_are_json_404(owner, url):
    """Bad UUIDs, unknown ids and unknown URLs: JSON 404, never a 500."""
    response = owner.get(url)
    if response.status_code == 405:  # the keys detail URL only allows DELETE
        response = owner.delete(url)
    _assert_error(response, 404, code="not_found")


@pytest.mark.parametrize(
    "query",
    ["?user_id=a%00b", "?created_after=yesterday", "?state=gone", "?team=a%00"],
)
def test_bad_list_parameters_are_400(owner, query):
    """NUL bytes, bad dates and unknown states in query parameters: 400."""
    _assert_error(owner.get(SPACE + "memories/" + query), 400)


def test_bad_hard_flag_is_400(owner, memory):
    """?hard= must be a boolean."""
    url = f"{SPACE}memories/{memory.pk}/?hard=perhaps"
    _assert_error(owner.delete(url), 400, field="hard")
    assert Memory.objects.filter(pk=memory.pk, state="active").exists()


def test_import_body_over_the_limit_is_413(owner, settings):
    """The JSON Lines import obeys the same body limit."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = "".join(json.dumps({"content": f"line {i}"}) + "\n" for i in range(100))
    response = owner.generic(
        "POST", SPACE + "import/", body, content_type="application/x-ndjson"
    )
    _assert_error(response, 413)


def test_import_reports_undecodable_lines(owner):
    """Invalid UTF-8 on one line is that line's error."""
    body = b'{"content": "ok"}\n\xff\xfe\n'
    response = owner.generic(
        "POST", SPACE + "import/", body, content_type="application/x-ndjson"
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["line"], r["status"]) for r in results] == [
        (1, "created"),
        (2, "error"),
    ]
    assert "UTF-8" in results[1]["error"]


def test_method_not_allowed_is_json_405(owner):
    """An unsupported method is a 405 in the same error shape."""
    response = owner.delete("/api/v1/teams/")
    _assert_error(response, 405, code="method_not_allowed")


@pytest.mark.parametrize(
    "fields",
    [
        {"content": "lone \ud800 surrogate"},
        {"content": "ok", "user_id": "bad \udfff id"},
        {"content": "ok", "metadata": {"k": "\ud834"}},
        {"content": "ok", "categories": ["\udc00"]},
    ],
)
def test_services_refuse_unstorable_text_from_any_surface(cast, fields):
    """Surfaces with their own parsers get a 400-class error, not a DB crash."""
    with pytest.raises(InvalidInput) as caught:
        services.memory_add(actor=SYSTEM, space=cast.space, data=fields)
    assert caught.value.field in ("content", "user_id", "metadata", "categories")
