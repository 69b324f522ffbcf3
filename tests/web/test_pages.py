"""The pages: home, the memory browser (filters, cursor pages, search, htmx
partials, the empty state), the memory page; each audited with surface
``ui``, escaped, under a strict CSP, in a bounded number of queries."""

import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Team
from audit.models import AccessEvent
from memories import services
from tests.factories import SYSTEM, make_space
from tests.web.conftest import XSS, add, memory_url, signed_in, space_url

pytestmark = pytest.mark.django_db
WEB = Path(__file__).resolve().parents[2] / "web"


def _ui_events(action: str):
    return AccessEvent.objects.filter(surface="ui", action=action)


# --- home -----------------------------------------------------------------------


def test_home_lists_the_persons_teams_and_spaces_with_counts(people, space, team):
    add(space, "one", 1)
    add(space, "two", 2)
    make_space(team, "empty-one")
    response = signed_in(people["member"]).get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert space_url(space) in body
    assert "<td>2</td>" in body and "never" in body
    assert "/spaces/other/" not in body  # another team's space


def test_home_shows_spaces_shared_from_other_teams(people, space):
    other_space = make_space(Team.objects.get(slug="other"), "shared")
    services.space_share(
        actor=SYSTEM, space=other_space, team=space.team.slug, perms=["view_space"]
    )
    body = signed_in(people["viewer"]).get("/").content.decode()
    assert "Shared with you" in body and space_url(other_space) in body


def test_home_costs_the_same_queries_for_many_spaces(
    people, team, django_assert_max_num_queries
):
    client = signed_in(people["member"])
    client.get("/")  # the session's first use
    with CaptureQueriesContext(connection) as few:
        client.get("/")
    for n in range(5):
        make_space(team, f"extra-{n}")
    with django_assert_max_num_queries(len(few)):
        assert client.get("/").status_code == 200


# --- the memory browser -----------------------------------------------------------


def test_the_space_page_lists_memories_and_audits_the_read_as_ui(people, space, memory):
    response = signed_in(people["viewer"]).get(space_url(space))
    assert response.status_code == 200
    assert b"Ada likes green tea" in response.content
    event = _ui_events("memory.list").get()
    assert event.memory_ids == [memory.pk]


def test_filters_map_onto_the_filter_language(people, space):
    add(space, "Bob drinks coffee", 1, user_id="bob", metadata={"priority": 5})
    add(
        space,
        "Ada drinks tea",
        2,
        user_id="ada",
        categories=["drinks"],
        metadata={"priority": "high"},
    )
    client = signed_in(people["viewer"])

    def shown(**params) -> set[str]:
        body = client.get(space_url(space), params).content.decode()
        return {text for text in ("Bob drinks", "Ada drinks") if text in body}

    assert shown(user_id="bob") == {"Bob drinks"}
    assert shown(category="drinks") == {"Ada drinks"}
    assert shown(metadata="priority=5") == {"Bob drinks"}
    assert shown(metadata="priority=high") == {"Ada drinks"}
    assert shown(created_from="2000-01-01", created_to="2999-12-31") == {
        "Bob drinks",
        "Ada drinks",
    }
    assert shown(created_to="2000-01-01") == set()
    assert shown(state="archived") == set()
    response = client.get(space_url(space), {"metadata": "no equals sign"})
    assert b"key=value" in response.content


def test_archived_memories_are_listed_when_asked(people, space, memory):
    services.memory_update(
        actor=SYSTEM, space=space, memory_id=memory.pk, state="archived"
    )
    client = signed_in(people["viewer"])
    assert b"Ada likes" not in client.get(space_url(space)).content
    assert b"Ada likes" in client.get(space_url(space), {"state": "archived"}).content
    assert b"Ada likes" in client.get(space_url(space), {"state": "all"}).content


def test_cursor_pages_walk_every_memory_once(people, space):
    for n in range(30):
        add(space, f"memory number {n:02d}", n)
    client = signed_in(people["viewer"])
    first = client.get(space_url(space)).content.decode()
    link = re.search(r'href="\?([^"]*cursor=[^"]*)"', first)
    assert link, "a next-page link"
    second = client.get(space_url(space) + "?" + link.group(1).replace("&amp;", "&"))
    seen = re.findall(r"memory number (\d\d)", first) + re.findall(
        r"memory number (\d\d)", second.content.decode()
    )
    assert sorted(seen) == [f"{n:02d}" for n in range(30)]
    assert "Last page." in second.content.decode()
    damaged = client.get(space_url(space), {"cursor": "not-a-cursor"})
    assert damaged.status_code == 200 and b"start again" in damaged.content


def test_an_htmx_request_gets_only_the_results_partial(people, space, memory):
    client = signed_in(people["viewer"])
    partial = client.get(space_url(space), {"user_id": "ada"}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert b"<html" not in partial.content
    assert b"Ada likes green tea" in partial.content
    assert "HX-Request" in partial["Vary"]
    full = client.get(space_url(space), {"user_id": "ada"})
    assert b"<html" in full.content and b'id="results"' in full.content
    # The back button's history restore needs the whole page.
    restore = client.get(
        space_url(space),
        HTTP_HX_REQUEST="true",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    )
    assert b"<html" in restore.content


def test_keyword_search_shows_scores_and_is_audited_as_ui(people, space, memory):
    add(space, "Bob drinks coffee", 3, user_id="bob")
    response = signed_in(people["viewer"]).get(
        space_url(space), {"q": "green tea", "mode": "keyword", "top_k": 5}
    )
    body = response.content.decode()
    assert "Ada likes green tea" in body and "Bob drinks" not in body
    assert "score " in body
    assert _ui_events("memory.search").get().memory_ids == [memory.pk]


def test_search_honours_the_filters(people, space, memory):
    add(space, "Bob likes green tea too", 3, user_id="bob")
    body = (
        signed_in(people["viewer"])
        .get(space_url(space), {"q": "tea", "mode": "keyword", "user_id": "bob"})
        .content.decode()
    )
    assert "Bob likes" in body and "Ada likes" not in body


def test_bad_search_input_is_shown_not_a_500(people, space, memory):
    response = signed_in(people["viewer"]).get(
        space_url(space), {"q": "tea", "top_k": 100000}
    )
    assert response.status_code == 200
    assert b"Check the filter and search fields" in response.content


def test_an_empty_space_shows_what_to_do_next(people, space):
    body = signed_in(people["member"]).get(space_url(space)).content.decode()
    assert "has no memories yet" in body
    assert "http://testserver/api/v1/spaces/default/memories/?team=acme" in body
    assert 'MemoryClient(api_key="mh_…", host="http://testserver")' in body
    assert "/mcp" in body and "X-MemoryHub-Space" in body


# --- the memory page ------------------------------------------------------------


def test_the_memory_page_shows_fields_and_history_and_audits_both(
    people, space, memory
):
    services.memory_update(
        actor=SYSTEM, space=space, memory_id=memory.pk, metadata={"mood": "calm"}
    )
    response = signed_in(people["viewer"]).get(memory_url(space, memory.pk))
    body = response.content.decode()
    assert response.status_code == 200
    for text in (
        "Ada likes green tea",
        str(memory.pk),
        "drinks",
        "calm",
        "ADD",
        "UPDATE",
        "<dt>Version</dt><dd>2</dd>",
        "<dt>Immutable</dt><dd>no</dd>",
    ):
        assert text in body, text
    assert _ui_events("memory.read").get().memory_ids == [memory.pk]
    assert _ui_events("memory.history").get().memory_ids == [memory.pk]


def test_page_queries_are_bounded_whatever_the_number_of_rows(
    people, space, memory, django_assert_max_num_queries
):
    client = signed_in(people["viewer"])
    client.get(space_url(space))
    with CaptureQueriesContext(connection) as few:
        client.get(space_url(space))
    with CaptureQueriesContext(connection) as one_event:
        client.get(memory_url(space, memory.pk))
    for n in range(30):
        add(space, f"more {n}", n)
        services.memory_update(
            actor=SYSTEM, space=space, memory_id=memory.pk, metadata={"n": n}
        )
    with django_assert_max_num_queries(len(few)):
        assert client.get(space_url(space)).status_code == 200
    with django_assert_max_num_queries(len(one_event)):
        assert client.get(memory_url(space, memory.pk)).status_code == 200
    assert len(few) <= 25 and len(one_event) <= 25


# --- escaping and the Content-Security-Policy ---------------------------------------


@pytest.mark.parametrize("payload", XSS)
def test_content_metadata_and_ids_are_escaped_on_every_page(people, space, payload):
    planted = add(
        space,
        f"tea {payload}",
        7,
        user_id=payload,
        agent_id=payload,
        categories=[payload],
        metadata={payload: payload},
    )
    services.memory_update(
        actor=SYSTEM, space=space, memory_id=planted.pk, content=f"tea again {payload}"
    )
    client = signed_in(people["member"])
    escaped = payload.replace("<", "&lt;").replace(">", "&gt;")
    pages = {
        "list": client.get(space_url(space)),
        "search": client.get(space_url(space), {"q": "tea", "mode": "keyword"}),
        "memory": client.get(memory_url(space, planted.pk)),
        "confirm": client.get(memory_url(space, planted.pk, "delete")),
    }
    for name, response in pages.items():
        body = response.content.decode()
        assert response.status_code == 200, name
        assert payload not in body, name
        assert escaped in body, name


def test_the_csp_header_is_strict(people, space):
    for response in (
        signed_in(people["member"]).get(space_url(space)),
        signed_in(people["member"]).get("/"),
        signed_in(people["member"]).get(reverse("web:login")),
    ):
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy and "style-src 'self'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_no_template_has_an_inline_script_style_or_handler():
    for path in (WEB / "templates").rglob("*.html"):
        text = path.read_text()
        for script in re.findall(r"<script[^>]*>", text):
            assert "src=" in script, path
        assert not re.search(r"<style", text), path
        assert not re.search(r"\sstyle=", text), path
        assert not re.search(r"\son[a-z]+=", text), path


def test_vendored_assets_are_pinned_with_their_licences():
    vendor = WEB / "static" / "web" / "vendor"
    readme = (vendor / "README.md").read_text()
    for name, files in {
        "htmx": ("htmx.min.js", "LICENSE"),
        "pico": ("pico.min.css", "LICENSE.md"),
    }.items():
        for file in files:
            assert (vendor / name / file).stat().st_size > 0, (name, file)
    assert re.search(r"htmx\.org@\d+\.\d+\.\d+", readme)
    assert re.search(r"@picocss/pico@\d+\.\d+\.\d+", readme)


def test_search_results_say_why_they_matched(people, space):
    add(space, "Ada likes green tea", 1)
    body = (
        signed_in(people["viewer"])
        .get(space_url(space), {"q": "green tea", "mode": "keyword"})
        .content.decode()
    )
    assert "score 1.000" in body and "matches 100% of the query" in body


def test_search_queries_are_bounded_whatever_the_number_of_results(
    people, space, django_assert_max_num_queries
):
    client = signed_in(people["viewer"])
    search = {"q": "tea", "mode": "keyword", "top_k": 50}
    add(space, "tea 0", 0)
    client.get(space_url(space), search)
    with CaptureQueriesContext(connection) as few:
        client.get(space_url(space), search)
    bound = len(few)
    for n in range(1, 30):
        add(space, f"tea {n}", n)
    with django_assert_max_num_queries(bound):
        response = client.get(space_url(space), search)
    assert len(response.context["results"]) == 30
