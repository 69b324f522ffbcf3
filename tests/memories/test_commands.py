"""Management commands: thin wrappers over the services, secrets printed once."""

import base64
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.exceptions import AuthenticationFailed

from accounts.authentication import authenticate_key
from accounts.models import ApiKey, Membership, Team, User
from audit.models import AccessEvent
from memories import services
from memories.encryption import sealing
from memories.models import Memory, MemoryEvent, Space, SpaceKey
from memoryhub.crypto import peek_key_id
from memoryhub.crypto.keys import master_keyring
from tests.factories import SYSTEM, make_key, make_space, unit_vector
from tests.subprocess_env import child_env

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def run(*args, **options) -> list[str]:
    """Call a command and return its stdout lines."""
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue().splitlines()


# --- bootstrap ----------------------------------------------------------------------


def test_bootstrap_creates_everything_once_and_prints_secrets_once(monkeypatch):
    monkeypatch.delenv("MEMORYHUB_ADMIN_PASSWORD", raising=False)
    first = "\n".join(run("bootstrap"))
    operator = User.objects.get(username="admin")
    assert operator.is_superuser and operator.is_staff
    team = Team.objects.get(slug="demo")
    assert Membership.objects.get(team=team, user=operator).role == "owner"
    space = Space.objects.get(team=team, slug="default")
    assert SpaceKey.objects.filter(space=space, state="active").exists()
    api_key = ApiKey.objects.get(team=team, name="bootstrap")
    secret = next(
        line.strip() for line in first.splitlines() if line.strip().startswith("mh_")
    )
    assert authenticate_key(secret).api_key == api_key
    password = first.split("shown only now:\n")[-1].splitlines()[0].strip()
    assert operator.check_password(password)

    second = "\n".join(run("bootstrap"))
    assert "mh_" not in second.replace(f"prefix {api_key.prefix}", "")
    assert password not in second
    assert "create_api_key --team demo" in second
    assert "changepassword admin" in second
    assert ApiKey.objects.filter(team=team).count() == 1
    assert User.objects.filter(is_superuser=True).count() == 1


def test_bootstrap_makes_the_operator_an_owner_who_can_sign_in_to_the_app(
    monkeypatch,
):
    """Even when someone else made the demo team first, the operator is its
    owner after bootstrap, and the team app shows the demo space at once."""
    from django.test import Client

    from tests.factories import make_team

    monkeypatch.setenv("MEMORYHUB_ADMIN_PASSWORD", "correct horse battery")
    make_team("demo")
    out = "\n".join(run("bootstrap"))
    operator = User.objects.get(username="admin")
    team = Team.objects.get(slug="demo")
    assert Membership.objects.get(team=team, user=operator).role == "owner"
    assert "admin is now an owner" in out
    client = Client()
    signin = client.post(
        "/signin/", {"username": "admin", "password": "correct horse battery"}
    )
    assert signin.status_code == 302 and signin["Location"] == "/"
    assert b"/spaces/demo/default/" in client.get("/").content
    assert "now an owner" not in "\n".join(run("bootstrap"))


def test_make_run_announces_the_team_app_first():
    from memoryhub.launcher import up_lines

    first, *rest = up_lines("http://127.0.0.1:8000")
    assert "http://127.0.0.1:8000/ " in first and "team app" in first
    assert any("/admin/" in line for line in rest)


def test_bootstrap_takes_the_operator_password_from_the_environment(monkeypatch):
    monkeypatch.setenv("MEMORYHUB_ADMIN_PASSWORD", "correct horse battery")
    out = "\n".join(run("bootstrap"))
    assert "correct horse battery" not in out
    assert User.objects.get(username="admin").check_password("correct horse battery")


# --- API keys -----------------------------------------------------------------------


def test_create_api_key_last_line_is_a_working_secret(team, space):
    lines = run("create_api_key", "--team", team.slug, "--name", "agent")
    actor = authenticate_key(lines[-1])
    assert actor.api_key.name == "agent"
    assert actor.api_key.team == team
    assert not actor.api_key.read_only
    assert actor.key_space_ids == frozenset()


def test_create_api_key_scoped_read_only_and_expiring(team, space):
    other = make_space(team, "other")
    lines = run(
        "create_api_key",
        "--team",
        team.slug,
        "--space",
        space.slug,
        "--space",
        other.slug,
        "--read-only",
        "--expires-in-days",
        "7",
    )
    actor = authenticate_key(lines[-1])
    assert actor.api_key.read_only
    assert actor.key_space_ids == {space.pk, other.pk}
    assert actor.api_key.expires_at is not None
    assert "read-only" in lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--team", "nope"], "no team 'nope'"),
        (["--team", "acme", "--space", "nope"], "has no space 'nope'"),
        (["--team", "acme", "--expires-in-days", "0"], "at least 1"),
        (["--team", "acme", "--name", "x" * 101], "1-100 characters"),
    ],
)
def test_create_api_key_errors_are_command_errors(team, space, args, message):
    with pytest.raises(CommandError, match=message):
        run("create_api_key", *args)


def test_revoke_api_key_by_prefix_or_full_key(team):
    api_key, secret, _ = make_key(team)
    run("revoke_api_key", api_key.prefix)
    with pytest.raises(AuthenticationFailed, match="revoked"):
        authenticate_key(secret)
    again = run("revoke_api_key", secret)
    assert "already revoked" in again[-1]
    with pytest.raises(CommandError, match="no API key with prefix"):
        run("revoke_api_key", "000000000000")


# --- teams, spaces, people ----------------------------------------------------------


def test_createteam_and_duplicate():
    run("createteam", "research", "--name", "Research")
    team = Team.objects.get(slug="research")
    assert team.name == "Research" and team.group.name == "team:research"
    with pytest.raises(CommandError, match="already exists"):
        run("createteam", "research")
    with pytest.raises(CommandError, match="lowercase"):
        run("createteam", "Not A Slug")


def test_createspace_with_retention_and_errors(team):
    run(
        "createspace",
        "--team",
        team.slug,
        "notes",
        "--name",
        "Notes",
        "--description",
        "meeting notes",
        "--retention-days",
        "30",
    )
    space = Space.objects.get(team=team, slug="notes")
    assert (space.name, space.description, space.retention_days) == (
        "Notes",
        "meeting notes",
        30,
    )
    assert AccessEvent.objects.filter(action="space.create", surface="cli").exists()
    with pytest.raises(CommandError, match="already has a space 'notes'"):
        run("createspace", "--team", team.slug, "notes")
    with pytest.raises(CommandError, match="positive integer"):
        run("createspace", "--team", team.slug, "short", "--retention-days", "0")


def test_createoperator_with_password_from_env(monkeypatch):
    monkeypatch.setenv("OPERATOR_PW", "s3cret-enough")
    lines = run(
        "createoperator",
        "ops",
        "--email",
        "ops@example.com",
        "--password-from-env",
        "OPERATOR_PW",
    )
    user = User.objects.get(username="ops")
    assert user.is_staff and user.is_superuser and user.email == "ops@example.com"
    assert user.check_password("s3cret-enough")
    assert "s3cret-enough" not in "\n".join(lines)
    with pytest.raises(CommandError, match="already exists"):
        run("createoperator", "ops", "--password-from-env", "OPERATOR_PW")
    with pytest.raises(CommandError, match="MISSING_VAR is not set"):
        run("createoperator", "ops2", "--password-from-env", "MISSING_VAR")


def test_createoperator_generates_a_password_shown_last():
    lines = run("createoperator", "ops")
    assert User.objects.get(username="ops").check_password(lines[-1])


def test_addmember_creates_the_user_and_sets_the_role(team):
    run("addmember", "--team", team.slug, "dana", "--role", "viewer")
    dana = User.objects.get(username="dana")
    assert not dana.has_usable_password()
    assert Membership.objects.get(team=team, user=dana).role == "viewer"
    assert dana.groups.filter(pk=team.group_id).exists()
    run("addmember", "--team", team.slug, "dana", "--role", "admin")
    assert Membership.objects.get(team=team, user=dana).role == "admin"
    with pytest.raises(CommandError, match="invalid choice"):
        run("addmember", "--team", team.slug, "dana", "--role", "emperor")


# --- key rotation -------------------------------------------------------------------


def _add(space, text: str, seed: int) -> Memory:
    memory, _ = services.memory_add(
        actor=SYSTEM, space=space, data={"content": text}, embedding=unit_vector(seed)
    )
    return memory


def test_rotate_data_key_wait_reencrypts_everything(team, space, settings):
    settings.REENCRYPT_BATCH_SIZE = 2
    texts = [f"memory number {n} about rotation" for n in range(5)]
    memories = [_add(space, text, n) for n, text in enumerate(texts)]
    services.memory_update(
        actor=SYSTEM, space=space, memory_id=memories[0].pk, metadata={"a": 1}
    )
    lines = run("rotate_data_key", "--team", team.slug, space.slug, "--wait")
    assert "data key v2" in lines[0]
    assert not Memory.objects.filter(space=space).exclude(key_version=2).exists()
    assert (
        not MemoryEvent.objects.filter(memory__space=space)
        .exclude(key_version=2)
        .exists()
    )
    assert list(SpaceKey.objects.filter(space=space).values_list("version")) == [(2,)]
    for memory, text in zip(memories, texts, strict=True):
        memory.refresh_from_db()
        assert sealing.memory_content(memory, space) == text
    assert "older keys are destroyed" in lines[-1]


def test_rotate_data_key_without_wait_leaves_it_to_the_worker(team, space):
    _add(space, "left for the worker", 1)
    lines = run("rotate_data_key", "--team", team.slug, space.slug)
    assert "background" in lines[-1]
    assert SpaceKey.objects.get(space=space, state="active").version == 2
    with pytest.raises(CommandError, match="has no space 'missing'"):
        run("rotate_data_key", "--team", team.slug, "missing")


def test_rotate_master_key_rewraps_with_the_new_primary(space, settings):
    old = settings.MASTER_KEYS
    new = "k2:" + base64.urlsafe_b64encode(b"\x02" * 32).decode()
    settings.MASTER_KEYS = f"{new},{old}"
    master_keyring.cache_clear()
    try:
        lines = run("rotate_master_key")
        assert lines[0].startswith("Rewrapped 2 key(s) with master key 'k2'")
        key = SpaceKey.objects.get(space=space)
        assert key.master_key_id == "k2"
        assert peek_key_id(bytes(key.wrapped_key)) == "k2"
        space.refresh_from_db()
        assert peek_key_id(bytes(space.index_key_wrapped)) == "k2"
        assert run("rotate_master_key")[0].startswith("Rewrapped 0 key(s)")
    finally:
        settings.MASTER_KEYS = old
        master_keyring.cache_clear()


# --- as a process -------------------------------------------------------------------


def test_errors_exit_1_with_one_line_and_no_traceback():
    result = subprocess.run(
        [sys.executable, "manage.py", "create_api_key", "--team", "ghost"],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "CommandError: no team 'ghost'" in result.stderr
    assert "Traceback" not in result.stderr
