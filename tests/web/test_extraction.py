"""A space's Extraction tab in the team app: members extract from a
conversation and watch the result, managers change the settings, viewers
only look, other teams get 404s; everything shown is escaped. The model is
the scripted test fixture of tests/scripted_llm.py."""

import pytest
from django.urls import reverse

from accounts.actors import SYSTEM
from memories import services
from memories.models import ExtractionEvent, ExtractionSettings, Memory
from tests.web.conftest import XSS, signed_in

pytestmark = pytest.mark.django_db


def url(space, event=None):
    kwargs = {"team_slug": space.team.slug, "slug": space.slug}
    if event is None:
        return reverse("web:space_extraction", kwargs=kwargs)
    return reverse(
        "web:space_extraction_event", kwargs={**kwargs, "event_id": event.pk}
    )


def test_a_member_extracts_and_sees_what_the_model_decided(
    people, space, llm, django_capture_on_commit_callbacks
):
    client = signed_in(people["member"])
    page = client.get(url(space)).content.decode()
    assert "scripted-test-model" in page and 'name="conversation"' in page
    assert 'name="instructions"' not in page  # settings are for managers
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url(space),
            {
                "action": "extract",
                "conversation": "User: I like jazz\nAssistant: Noted\nI live in Porto",
                "user_id": "ada",
            },
        )
    event = ExtractionEvent.objects.get()
    assert response.status_code == 302 and response["Location"] == url(space, event)
    sent = llm.requests[0]["messages"][1]["content"]
    assert '"role": "assistant"' in sent and '"content": "Noted"' in sent
    body = client.get(url(space, event)).content.decode()
    assert "Succeeded" in body and "I like jazz" in body and "I live in Porto" in body
    assert "hx-get" not in body  # finished: no more polling
    assert sorted(Memory.objects.values_list("user_id", flat=True)) == ["ada", "ada"]
    listing = client.get(url(space)).content.decode()
    assert str(event.pk) in listing


def test_a_running_extraction_is_polled(people, space, llm):
    event = services.extraction_submit(
        actor=SYSTEM, space=space, messages="Likes tea"
    )  # queued: the task has not run (no commit in this test)
    client = signed_in(people["viewer"])
    partial = client.get(url(space, event), headers={"HX-Request": "true"})
    body = partial.content.decode()
    assert "<html" not in body and 'hx-trigger="every 1s"' in body
    assert "Pending" in body


def test_viewers_look_and_cannot_extract_or_configure(people, space, llm):
    client = signed_in(people["viewer"])
    page = client.get(url(space)).content.decode()
    assert 'name="conversation"' not in page and 'name="instructions"' not in page
    assert (
        client.post(url(space), {"action": "extract", "conversation": "x"}).status_code
        == 403
    )
    assert (
        client.post(url(space), {"action": "settings", "instructions": "x"}).status_code
        == 403
    )
    member = signed_in(people["member"])
    assert (
        member.post(url(space), {"action": "settings", "instructions": "x"}).status_code
        == 403
    )
    assert not ExtractionEvent.objects.exists()
    assert not ExtractionSettings.objects.exists()


def test_an_owner_changes_the_settings(people, space, llm):
    client = signed_in(people["owner"])
    response = client.post(
        url(space),
        {
            "action": "settings",
            "infer_by_default": "on",
            "instructions": "Never keep health data",
            "categories": "music: tastes in music\ntravel",
            "max_memories_per_subject": "50",
        },
    )
    assert response.status_code == 302
    saved = ExtractionSettings.objects.get(space=space)
    assert saved.infer_by_default and saved.max_memories_per_subject == 50
    assert saved.categories == [
        {"name": "music", "description": "tastes in music"},
        {"name": "travel", "description": ""},
    ]
    page = client.get(url(space)).content.decode()
    assert "music: tastes in music" in page
    bad = client.post(
        url(space),
        {
            "action": "settings",
            "categories": "x" * 101,
            "max_memories_per_subject": "0",
        },
    )
    assert bad.status_code == 400
    assert "Ensure this value is greater than or equal to 1" in bad.content.decode()


def test_without_a_model_the_page_says_what_to_set(people, space, settings):
    settings.LLM_URL = ""
    client = signed_in(people["member"])
    page = client.get(url(space)).content.decode()
    assert "No model is configured" in page and "disabled" in page
    response = client.post(url(space), {"action": "extract", "conversation": "x"})
    assert response.status_code == 400
    assert "MEMORYHUB_LLM_URL" in response.content.decode()


def test_other_teams_get_404s(people, space, llm):
    event = services.extraction_submit(
        actor=SYSTEM, space=space, messages="Likes tea", wait=True
    )
    client = signed_in(people["outsider"])
    assert client.get(url(space)).status_code == 404
    assert client.get(url(space, event)).status_code == 404
    assert (
        client.post(url(space), {"action": "extract", "conversation": "x"}).status_code
        == 404
    )


@pytest.mark.parametrize("payload", XSS)
def test_what_the_model_wrote_is_escaped(people, space, llm, payload):
    llm.on("facts", answer={"facts": [{"text": f"Likes {payload}"}]})
    services.extraction_settings_update(
        actor=SYSTEM, space=space, categories=[{"name": payload[:30]}]
    )
    event = services.extraction_submit(
        actor=SYSTEM, space=space, messages="anything", wait=True
    )
    client = signed_in(people["owner"])
    for page in (client.get(url(space, event)), client.get(url(space))):
        assert payload not in page.content.decode()
