"""Admin console for extraction: a team's model (its key sealed, never shown),
a space's settings (checked like the API), events without content."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.actors import SYSTEM
from memories import services
from memories.extraction import llm as llm_module
from memories.models import ExtractionSettings, TeamModel
from tests.factories import UserFactory, make_key

pytestmark = pytest.mark.django_db
SECRET = "Ravi keeps the spare key under the blue flowerpot"


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def test_a_team_model_key_is_sealed_and_never_shown(admin_client, team, llm):
    response = admin_client.post(
        reverse("admin:memories_teammodel_add"),
        {
            "team": team.pk,
            "url": llm.url,
            "model": "team-model",
            "temperature": "0.2",
            "timeout_seconds": "10",
            "max_tokens": "512",
            "allows_content": "on",
            "enabled": "on",
            "api_key": "sk-team-secret",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    row = TeamModel.objects.get(team=team)
    assert b"sk-team-secret" not in bytes(row.api_key_sealed)
    config = llm_module.model_for_team(team.pk)
    assert (config.model, config.api_key, config.source) == (
        "team-model",
        "sk-team-secret",
        llm_module.TEAM_SOURCE,
    )
    page = admin_client.get(reverse("admin:memories_teammodel_change", args=[row.pk]))
    assert b"sk-team-secret" not in page.content
    listing = admin_client.get(reverse("admin:memories_teammodel_changelist"))
    assert b"sk-team-secret" not in listing.content and b"team-model" in listing.content
    # Bad values are form errors, not 500s.
    bad = admin_client.post(
        reverse("admin:memories_teammodel_change", args=[row.pk]),
        {
            "team": team.pk,
            "url": "ftp://x",
            "model": "m",
            "temperature": "5",
            "timeout_seconds": "0",
            "max_tokens": "1",
        },
    )
    assert bad.status_code == 200 and b"errornote" in bad.content


def test_the_team_model_is_used_for_that_team(team, space, llm, settings):
    """The team's model wins over the environment's (which is off here)."""
    settings.LLM_URL = ""
    row = TeamModel(team=team, url=llm.url, model="team-model", allows_content=True)
    llm_module.team_model_set_key(row, "sk-x")
    row.save()
    actor = make_key(team)[2]
    event = services.extraction_submit(
        actor=actor, space=space, messages="Likes tea", wait=True
    )
    assert event.state == "SUCCEEDED" and event.model == "team-model"
    assert llm.requests[0]["model"] == "team-model"


def test_settings_and_events_pages(admin_client, space, llm):
    response = admin_client.post(
        reverse("admin:memories_extractionsettings_add"),
        {
            "space": space.pk,
            "instructions": "Never keep health data",
            "categories": '[{"name": "music", "description": "tastes"}]',
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert ExtractionSettings.objects.get(space=space).categories == [
        {"name": "music", "description": "tastes"}
    ]
    bad = admin_client.post(
        reverse("admin:memories_extractionsettings_change", args=[space.pk]),
        {"categories": '[{"name": ""}]', "instructions": ""},
    )
    assert bad.status_code == 200 and b"errornote" in bad.content
    event = services.extraction_submit(
        actor=SYSTEM, space=space, messages=SECRET, wait=True
    )
    listing = admin_client.get(reverse("admin:memories_extractionevent_changelist"))
    assert listing.status_code == 200 and str(event.pk).encode() in listing.content
    detail = admin_client.get(
        reverse("admin:memories_extractionevent_change", args=[event.pk])
    )
    assert detail.status_code == 200
    for page in (listing, detail):
        assert b"flowerpot" not in page.content
    found = admin_client.get(
        reverse("admin:memories_extractionevent_changelist"), {"q": str(event.pk)}
    )
    assert str(event.pk).encode() in found.content
