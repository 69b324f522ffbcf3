"""Real-browser tests: Debian's Chromium driven by Playwright against a live
MemoryHub started by the suite (pytest-django's ``live_server``, threaded, on
127.0.0.1, serving static files).

- The browser is ``/usr/bin/chromium`` (``MEMORYHUB_CHROMIUM`` to change),
  launched through ``executable_path``; Playwright never downloads one.
  Without it the tests are skipped with the reason, except in CI
  (``CI=true``), where a missing browser fails them: ``.ci/run`` installs it.
- Playwright's sync API runs an event loop in the test thread, and Django
  refuses ORM calls from a thread with a running loop; the tests' own setup
  (people, memories) and checks do call the ORM, so
  ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set for these tests only (the loop only
  waits for the browser: nothing here runs concurrently with the ORM).
- ``shot(page, name)`` saves a full-page screenshot under
  ``var/screenshots/`` (git-ignored); ``assert_accessible(page, name)`` runs
  axe-core on the page and fails on serious or critical violations.
"""

import os
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings

from memories import services
from tests.factories import SYSTEM, make_member, make_space, make_team

CHROMIUM = Path(os.environ.get("MEMORYHUB_CHROMIUM", "/usr/bin/chromium"))
IN_CI = os.environ.get("CI", "").lower() == "true"
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
AXE = Axe()
WIDE = {"width": 1280, "height": 900}


def pytest_collection_modifyitems(items):
    """Mark the browser tests, and run them last: ``DJANGO_ALLOW_ASYNC_UNSAFE``
    (below) then covers only them."""
    here = Path(__file__).parent
    browser, others = [], []
    for item in items:
        (browser if here in Path(item.fspath).parents else others).append(item)
    for item in browser:
        item.add_marker(pytest.mark.browser)
    items[:] = others + browser


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM.exists():
        message = (
            f"the browser tests need Chromium at {CHROMIUM} (apt-get install chromium)"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # root: no user namespaces
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": args}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": WIDE, "locale": "en-GB"}


@pytest.fixture(scope="session", autouse=True)
def _orm_from_the_test_thread():
    """Session-wide because the test database may be set up after Playwright
    started its loop; the browser tests run last (see above)."""
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if before is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def console_errors(page):
    """Console errors and CSP violations the page reports (should stay empty)."""
    errors: list[str] = []

    def on_console(message) -> None:
        # A 404 page is meant to answer 404; the browser logs that as an error.
        if message.type == "error" and "status of 404" not in message.text:
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def shot(page, name: str) -> Path:
    """A full-page PNG of ``page`` under var/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def assert_accessible(page, name: str) -> None:
    """axe-core on ``page``: no serious or critical violation."""
    results = AXE.run(page)
    bad = [
        violation
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    report = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} {v['helpUrl']}\n  "
        + "; ".join(", ".join(node["target"]) for node in v["nodes"][:5])
        for v in bad
    )
    assert not bad, f"accessibility violations on {name}:\n{report}"


def sign_in(page, live_server, user, password: str = "pw") -> None:  # noqa: S107
    """Through the real sign-in form."""
    page.goto(f"{live_server.url}/signin/")
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")


@pytest.fixture
def cast(transactional_db):
    """``acme/default`` with a few real memories, and people of every role."""
    team = make_team("acme")
    space = make_space(team, "default", name="Support agent")
    other = make_team("partners")
    for content, user in (
        ("Ada prefers green tea in the afternoon", "ada"),
        ("Ada is allergic to peanuts", "ada"),
        ("Bob books flights to Lisbon every spring", "bob"),
        ("The support agent answers in British English", ""),
    ):
        services.memory_add(
            actor=SYSTEM,
            space=space,
            data={"content": content, "user_id": user, "agent_id": "support"},
        )
    return {
        "team": team,
        "space": space,
        "owner": make_member(team, "owner", username="olivia"),
        "viewer": make_member(team, "viewer", username="victor"),
        "partner": make_member(other, "owner", username="petra"),
    }
