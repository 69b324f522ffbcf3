"""The activity page (audit log, filters, charts), the memory's audit trail,
and the request durations the audit now records."""

from datetime import date

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audit.models import AccessEvent
from memories import selectors, services
from tests.factories import SYSTEM, make_space
from tests.web.conftest import XSS, add, memory_url, signed_in, space_url
from web.charts import bar_chart, line_chart

pytestmark = pytest.mark.django_db


def activity_url(team):
    return reverse("web:team_activity", kwargs={"team_slug": team.slug})


def test_the_log_shows_the_teams_reads_with_their_duration(people, team, space, memory):
    viewer = signed_in(people["viewer"])
    viewer.get(space_url(space))
    event = AccessEvent.objects.filter(action="memory.list", surface="ui").latest("at")
    assert event.duration_ms is not None and event.duration_ms > 0
    page = viewer.get(activity_url(team))
    assert page.status_code == 200
    body = page.content.decode()
    assert "memory.list" in body and "ui" in body
    assert f"user:{people['viewer'].pk}:" in body
    assert 'role="img"' in body and "Request time per day" in body
    assert "Ada likes" not in body  # ids and counts, never content


def test_filters_narrow_the_log(people, team, space, memory):
    client = signed_in(people["owner"])
    client.get(memory_url(space, memory.pk))
    body = client.get(activity_url(team), {"action": "memory.history"}).content
    assert b"memory.history" in body and b"memory.read" not in body
    body = client.get(activity_url(team), {"surface": "mcp"}).content
    assert b"Nothing recorded for these filters" in body
    body = client.get(activity_url(team), {"memory_id": str(memory.pk)}).content
    assert b"memory.read" in body
    response = client.get(activity_url(team), {"since": "not a date"})
    assert (
        response.status_code == 200 and b"Check the filter fields" in response.content
    )


def test_a_person_sees_only_the_spaces_they_may_view(people, team, space, memory):
    hidden = make_space(team, "hidden")
    add(hidden, "secret", 5)
    selectors.memory_search(actor=SYSTEM, space=hidden, query="x", mode="keyword")
    outsider = people["outsider"]
    services.space_share(
        actor=SYSTEM, space=space, user=outsider.username, perms=["view_space"]
    )
    events = selectors.team_activity(actor=_actor(outsider), team=team, filters={})
    assert {event.space_slug for event in events} <= {"default"}
    # A person outside the team is a 404 on the team's page, even with a share.
    assert signed_in(outsider).get(activity_url(team)).status_code == 404


def _actor(user):
    from accounts.actors import actor_for_user

    return actor_for_user(user)


def test_team_level_rows_only_for_owners_and_admins(people, team):
    signed_in(people["owner"]).post(
        reverse("web:team_keys", kwargs={"team_slug": team.slug}), {"name": "bot"}
    )
    assert (
        b"apikey.create" in signed_in(people["owner"]).get(activity_url(team)).content
    )
    assert (
        b"apikey.create"
        not in signed_in(people["member"]).get(activity_url(team)).content
    )


def test_anonymous_is_sent_to_sign_in(team):
    assert Client().get(activity_url(team))["Location"].startswith("/signin/")


def test_the_memory_page_shows_its_audit_trail(people, space, memory):
    client = signed_in(people["viewer"])
    client.get(space_url(space))
    body = client.get(memory_url(space, memory.pk)).content.decode()
    trail = body[body.index('id="trail"') :]
    assert "memory.read" in trail and "All activity on this memory" in trail


@pytest.mark.parametrize("payload", XSS)
def test_actor_labels_and_slugs_are_escaped(people, team, space, payload):
    AccessEvent.objects.create(
        actor=payload, team_pk=team.pk, space_pk=space.pk, space_slug="default",
        action="memory.read", surface="api",
    )  # fmt: skip
    body = signed_in(people["owner"]).get(activity_url(team)).content.decode()
    assert payload not in body


def test_queries_are_bounded(
    people, team, space, memory, django_assert_max_num_queries
):
    client = signed_in(people["owner"])
    client.get(activity_url(team))
    with CaptureQueriesContext(connection) as few:
        client.get(activity_url(team))
    bound = len(few)  # now: each request below clears Django's query log
    for n in range(30):
        add(space, f"more {n}", n)
        client.get(space_url(space))
    with django_assert_max_num_queries(bound):
        assert client.get(activity_url(team)).status_code == 200


def test_bar_chart_geometry():
    days = [date(2026, 12, d) for d in (1, 2, 3)]
    chart = bar_chart("Requests", days, [0, 5, 10])
    heights = [bar["h"] for bar in chart["bars"]]
    assert (
        heights[0] == 0
        and heights[2] == chart["plot_h"]
        and heights[1] == heights[2] / 2
    )
    assert chart["ticks"][-1]["label"] == "10"
    assert chart["table"]["rows"][1] == ("2026-12-02", ["5"])


def test_line_chart_leaves_gaps_for_days_without_data():
    days = [date(2026, 12, d) for d in (1, 2, 3, 4)]
    chart = line_chart("Time", days, {"p50": [1.0, None, 3.0, 4.0]}, unit=" ms")
    assert len(chart["lines"][0]["points"]) == 2
    assert chart["table"]["rows"][1] == ("2026-12-02", ["—"])
