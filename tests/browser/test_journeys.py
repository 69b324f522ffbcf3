"""Journeys through the team app in a real browser, with screenshots."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import ApiKey
from accounts.services import api_key_verify
from memories.models import Memory
from tests.browser.conftest import assert_accessible, shot, sign_in
from tests.factories import make_space

pytestmark = pytest.mark.django_db(transaction=True)


def space_path(live_server, suffix=""):
    return f"{live_server.url}/spaces/acme/default/{suffix}"


def test_sign_in_search_open_edit_and_see_the_change_in_history(
    page, live_server, cast, console_errors
):
    sign_in(page, live_server, cast["owner"])
    expect(page.get_by_role("link", name="Support agent")).to_be_visible()
    shot(page, "home")
    page.get_by_role("link", name="Support agent").click()
    expect(page.get_by_text("Ada is allergic to peanuts")).to_be_visible()
    assert page.evaluate("typeof htmx") == "object"  # the vendored htmx loaded
    # Search as you type: htmx swaps the results in and pushes the URL.
    page.evaluate("window.__not_reloaded = true")
    page.get_by_role("searchbox").fill("what does Ada drink")
    expect(page).to_have_url(re.compile(r"q=what(%20|\+)does"))
    first = page.locator("ol.memories li").first
    expect(first).to_contain_text("green tea")
    expect(first.locator(".score")).to_be_visible()
    assert page.evaluate("window.__not_reloaded") is True
    shot(page, "search-as-you-type")
    first.get_by_role("link").click()
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    content = page.get_by_label("Content")
    content.fill("Ada prefers jasmine tea in the afternoon")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Memory saved.")).to_be_visible()
    history = page.locator("ol.history")
    expect(history.locator("ins").first).to_contain_text("jasmine")
    expect(history.locator("del").first).to_contain_text("green")
    shot(page, "memory-edited")
    assert not console_errors, console_errors


def test_a_viewer_sees_no_controls_and_a_crafted_post_is_refused(
    page, live_server, cast
):
    sign_in(page, live_server, cast["viewer"])
    page.goto(space_path(live_server))
    expect(page.get_by_text("Ada is allergic to peanuts")).to_be_visible()
    expect(page.get_by_text("Add a memory")).to_have_count(0)
    page.get_by_text("Ada is allergic to peanuts").click()
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    for control in ("Save", "Archive…", "Delete…"):
        expect(page.get_by_text(control, exact=True)).to_have_count(0)
    memory_id = re.search(r"/memories/([0-9a-f-]{36})/", page.url).group(1)
    memory = Memory.objects.get(pk=memory_id)
    token = page.evaluate(
        "document.cookie.split('; ')"
        ".find(c => c.startsWith('csrftoken=')).split('=')[1]"
    )
    response = page.request.post(
        page.url,
        form={"content": "hacked", "version": "1", "csrfmiddlewaretoken": token},
        headers={"Referer": page.url},
    )
    assert response.status == 403
    memory.refresh_from_db()
    assert memory.version == 1


def test_create_a_key_and_copy_it(page, live_server, cast, context):
    context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=live_server.url
    )
    sign_in(page, live_server, cast["owner"])
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("support-bot")
    page.get_by_label("default").check()
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_text("it is shown only this once")).to_be_visible()
    # The Clipboard API refuses a page without focus (the copy falls back
    # to selecting the key): headless Chromium can leave the focus with a
    # page of an earlier test's context.
    page.bring_to_front()
    page.get_by_role("button", name="Copy key").focus()
    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_role("status")).to_have_text("Copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert api_key_verify(ApiKey.objects.get(name="support-bot"), copied)
    shot(page, "key-created")


def test_share_a_space_and_see_it_as_the_other_user(page, live_server, cast, browser):
    sign_in(page, live_server, cast["owner"])
    page.goto(space_path(live_server))
    page.get_by_role("link", name="Sharing").click()
    page.get_by_label("Share with").select_option("user")
    page.get_by_label("Username or team slug").fill("petra")
    page.get_by_label("Permission").select_option("read")
    page.get_by_role("button", name="Grant").click()
    expect(page.get_by_text("petra now holds: view_space.")).to_be_visible()
    shot(page, "sharing")
    other = browser.new_context(viewport={"width": 1280, "height": 900})
    petra = other.new_page()
    sign_in(petra, live_server, cast["partner"])
    expect(petra.get_by_role("heading", name="Shared with you")).to_be_visible()
    petra.get_by_role("link", name="Support agent").click()
    expect(petra.get_by_text("Bob books flights to Lisbon")).to_be_visible()
    other.close()


def test_erase_a_user_id(page, live_server, cast):
    sign_in(page, live_server, cast["owner"])
    page.goto(space_path(live_server))
    page.get_by_role("link", name="Entities").click()
    shot(page, "entities")
    page.get_by_role("link", name="Erase user ada").click()
    page.get_by_label("Type the id to confirm").fill("ad")
    page.get_by_role("button", name="Erase").click()
    expect(page.get_by_text("nothing was erased")).to_be_visible()
    assert Memory.objects.filter(user_id="ada").count() == 2
    page.get_by_label("Type the id to confirm").fill("ada")
    page.get_by_role("button", name="Erase").click()
    expect(page.get_by_text("Erased 2 memories of user id ada")).to_be_visible()
    assert not Memory.objects.filter(user_id="ada").exists()


def test_narrow_screens_do_not_scroll_sideways(page, live_server, cast):
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, live_server, cast["owner"])
    memory = Memory.objects.filter(user_id="bob").get()
    for path in (
        "",
        "spaces/acme/default/",
        f"spaces/acme/default/memories/{memory.pk}/",
    ):
        page.goto(f"{live_server.url}/{path}")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth"
            " - document.documentElement.clientWidth"
        )
        assert overflow <= 0, (path, overflow)
    shot(page, "space-375px")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_main_pages_have_no_serious_accessibility_violations(
    page, live_server, cast, scheme, console_errors, llm
):
    page.emulate_media(color_scheme=scheme)
    page.goto(f"{live_server.url}/signin/")
    assert_accessible(page, "sign in")
    sign_in(page, live_server, cast["owner"])
    memory = Memory.objects.filter(user_id="bob").get()
    empty = make_space(cast["team"], "empty", name="Empty")
    pages = {
        "home": "/",
        "space": "/spaces/acme/default/",
        "search": "/spaces/acme/default/?q=tea&mode=hybrid",
        "empty space": f"/spaces/acme/{empty.slug}/",
        "memory": f"/spaces/acme/default/memories/{memory.pk}/",
        "entities": "/spaces/acme/default/entities/",
        "sharing": "/spaces/acme/default/sharing/",
        "import": "/spaces/acme/default/import/",
        "backends": "/spaces/acme/default/backends/",
        "webhooks": "/spaces/acme/default/webhooks/",
        "extraction": "/spaces/acme/default/extraction/",
        "activity": "/teams/acme/activity/",
        "team": "/teams/acme/",
        "api keys": "/teams/acme/keys/",
        "password": "/password/",
        "not found": "/spaces/acme/nowhere/",
    }
    for name, path in pages.items():
        page.goto(live_server.url + path)
        assert_accessible(page, f"{name} ({scheme})")
        if scheme == "light":
            shot(page, name.replace(" ", "-"))
    assert not console_errors, console_errors


def test_import_a_file_and_watch_the_progress_bar_finish(
    page, live_server, cast, monkeypatch, tmp_path
):
    from memories import tasks
    from memories.models import ImportJob
    from memories.services import import_job_run

    # The worker is this test: the upload only queues the job, then the page
    # polls while the test runs it part by part.
    monkeypatch.setattr(tasks.import_job_run, "delay", lambda *args: None)
    lines = [
        f'{{"content": "imported fact {n}", "user_id": "carol"}}' for n in range(9)
    ]
    path = tmp_path / "carol.jsonl"
    path.write_text("\n".join([*lines, "{broken"]) + "\n")
    sign_in(page, live_server, cast["owner"])
    page.goto(space_path(live_server, "import/"))
    page.get_by_label("File").set_input_files(str(path))
    page.get_by_role("button", name="Import").click()
    bar = page.locator("#import-bar")
    expect(bar).to_have_attribute("value", "0")
    expect(page.get_by_text("Queued")).to_be_visible()
    page.evaluate("window.__not_reloaded = true")
    import_job_run(job_pk=ImportJob.objects.get().pk, part_lines=4)
    expect(bar).to_have_attribute("value", "100", timeout=10_000)
    expect(page.get_by_text("9 added")).to_be_visible()
    expect(page.get_by_role("cell", name="malformed JSON", exact=False)).to_be_visible()
    assert page.evaluate("window.__not_reloaded") is True  # htmx polled, no reload
    shot(page, "import")
    assert Memory.objects.filter(user_id="carol").count() == 9


def test_extract_from_a_conversation_and_watch_the_decisions_arrive(
    page, live_server, cast, monkeypatch, llm
):
    """The model (the scripted test fixture) updates Ada's tea preference; the
    event page polls until the decision table appears, without a reload."""
    from memories import tasks
    from memories.models import ExtractionEvent
    from memories.services import extraction_run

    monkeypatch.setattr(tasks.extraction_run, "delay", lambda *args: None)
    llm.on("facts", answer={"facts": [{"text": "Ada prefers black coffee"}]})
    llm.on(
        "decisions",
        answer={
            "decisions": [
                {
                    "fact": 0,
                    "event": "UPDATE",
                    "memory": "m1",
                    "text": "Ada prefers black coffee in the afternoon",
                }
            ]
        },
    )
    sign_in(page, live_server, cast["owner"])
    page.goto(space_path(live_server, "extraction/"))
    page.get_by_role("textbox", name="Conversation").fill(
        "Actually I switched from green tea to black coffee\nAssistant: Got it!"
    )
    page.get_by_label("User ID").fill("ada")
    page.get_by_label("Agent ID").fill("support")
    page.get_by_role("button", name="Extract memories").click()
    expect(page.get_by_text("Pending")).to_be_visible()
    page.evaluate("window.__not_reloaded = true")
    extraction_run(event_id=ExtractionEvent.objects.get().pk)
    expect(page.get_by_text("Succeeded")).to_be_visible(timeout=10_000)
    expect(
        page.get_by_role("cell", name="Ada prefers green tea in the afternoon")
    ).to_be_visible()
    expect(
        page.get_by_role("link", name="Ada prefers black coffee in the afternoon")
    ).to_be_visible()
    assert page.evaluate("window.__not_reloaded") is True
    shot(page, "extraction-event")
