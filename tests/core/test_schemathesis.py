"""Schemathesis against a live MemoryHub and its own OpenAPI schema: with a
valid API key, and with an operator's session for the routing API, no
generated request gets a 5xx and every response conforms to the schema.

The real CLI (``schemathesis run``) drives the live server of
``live_server``; a failure prints schemathesis's report with a ``curl`` to
reproduce it.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from accounts.actors import SYSTEM
from memories import services
from tests.factories import UserFactory, make_key, make_space, make_team

pytestmark = pytest.mark.django_db(transaction=True)
CLI = str(Path(sys.executable).with_name("schemathesis"))


REPORTS = Path(__file__).resolve().parents[2] / "var" / "test"


def _run(url: str, name: str, *options: str) -> subprocess.CompletedProcess:
    """Run the CLI; its whole report is kept in var/test/schemathesis-<name>.log."""
    done = subprocess.run(  # noqa: S603 (fixed argv)
        [
            CLI,
            "run",
            f"{url}/api/schema/",
            "--checks",
            "not_a_server_error,response_schema_conformance",
            "--max-examples",
            "5",
            "--phases",
            "examples,coverage,fuzzing",
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--seed",
            "20261204",
            "--no-color",
            *options,
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"schemathesis-{name}.log").write_text(done.stdout + done.stderr)
    return done


def test_the_api_keeps_its_schema_and_never_answers_5xx(live_server):
    team = make_team("acme")
    space = make_space(team, "default")
    services.memory_add(
        actor=SYSTEM, space=space, data={"content": "schemathesis seed", "user_id": "u"}
    )
    secret = make_key(team)[1]
    keyed = _run(live_server.url, "key", "--header", f"Authorization: Bearer {secret}")
    assert keyed.returncode == 0, keyed.stdout[-6000:]
    operator = UserFactory(is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(operator)
    cookie = browser.cookies["sessionid"].value
    routed = _run(
        live_server.url,
        "operator",
        "--header",
        f"Cookie: sessionid={cookie}",
        "--include-path-regex",
        "^/api/v1/(routing|sync)/",
    )
    assert routed.returncode == 0, routed.stdout[-6000:]
