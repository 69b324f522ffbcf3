"""The four processes run as the Kubernetes manifests run them: on a
read-only root filesystem, with only ``/tmp`` and the var directory
writable (the pods' emptyDirs).

No cluster runs here, so a mount namespace stands in for the pod: the whole
root filesystem is remounted read-only for the process (``unshare -m`` and a
read-only bind remount — per mount point, nothing changes outside), ``/tmp``
writable, and a fresh tmpfs on the var directory. Each process runs the
exact command of its manifest (only the listen address and ports differ:
127.0.0.1 and free ports), against this test database and Redis, and does
real work: the web answers ``/readyz`` (the embedding model is loaded from
the read-only image), stores and searches a memory; the worker (prefork,
two children) runs a task and serves its metrics port; beat schedules from
the database; MCP accepts connections. None may log a read-only error or
exit.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from memoryhub.celery import app as celery_app
from tests.celery_support import wait_for
from tests.conftest import IN_CI
from tests.factories import make_key, make_space, make_team
from tests.mcp_support import free_port
from tests.subprocess_env import child_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
VENV_BIN = Path(sys.executable).parent
TOKEN = "read-only-metrics-token"
# The pod: everything read-only but /tmp and the var directory ($1). The
# checkout ($2, the image) is made read-only by a mount of its own, since it
# may itself live under /tmp (a CI clone), which stays writable.
POD = """set -e
var="$1"; root="$2"; shift 2
mount --bind /tmp /tmp
mount --bind "$root" "$root"
mount -o remount,bind,ro "$root"
mount -o remount,bind,ro /
mount -t tmpfs -o size=256m tmpfs "$var"
exec "$@"
"""
UNSHARE = ["unshare", "-m", "--propagation", "private", "--"]
READ_ONLY_ERRORS = ("Read-only file system", "Errno 30", "EROFS")


def _command(deployment: str) -> list[str]:
    """The main container's command of ``deployment`` in the manifests."""
    for doc in yaml.safe_load_all((KUBE / f"{deployment}.yaml").read_text()):
        if doc and doc["kind"] == "Deployment":
            (container,) = doc["spec"]["template"]["spec"]["containers"]
            return list(container["command"])
    raise AssertionError(f"no Deployment in {deployment}.yaml")


def _pod_env(deployment: str, **extra: str) -> dict[str, str]:
    env = {}
    manifest = KUBE / f"{deployment}.yaml"
    if not manifest.exists():  # the probe
        return extra
    for doc in yaml.safe_load_all(manifest.read_text()):
        if doc and doc["kind"] == "Deployment":
            (container,) = doc["spec"]["template"]["spec"]["containers"]
            env = {item["name"]: item["value"] for item in container.get("env", [])}
    return env | extra


@pytest.fixture
def pod(tmp_path, real_broker):
    """Start a process as its pod would; stops them all afterwards."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        reason = "needs root and unshare(1) to stand in for the pod"
        if IN_CI:  # CI runs as root: never pass this by skipping it there
            pytest.fail(reason)
        pytest.skip(reason)
    # Inside the checkout's var/ (not tracked by git).
    base = ROOT / "var" / "test" / f"read-only-{os.getpid()}-{time.monotonic_ns()}"
    started: list[tuple[subprocess.Popen, Path]] = []

    def start(deployment: str, argv: list[str], **env: str):
        var = base / deployment
        var.mkdir(parents=True)
        log = tmp_path / f"{deployment}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(  # noqa: S603 (fixed argv)
                [*UNSHARE, "sh", "-c", POD, "pod", str(var), str(ROOT), *argv],
                cwd=ROOT,
                env=child_env(
                    PATH=f"{VENV_BIN}:{os.environ['PATH']}",  # "python", "celery"
                    MEMORYHUB_VAR_DIR=str(var),
                    MEMORYHUB_MODEL_DIR=str(ROOT / "var" / "models"),  # the image's
                    PROMETHEUS_MULTIPROC_DIR=str(var / "prometheus"),  # as the image
                    PYTHONDONTWRITEBYTECODE="1",  # as the image
                    CELERY_BROKER_URL=real_broker,
                    MEMORYHUB_CELERY_EAGER="false",
                    MEMORYHUB_METRICS_TOKEN=TOKEN,
                    MEMORYHUB_ALLOWED_HOSTS="127.0.0.1",
                    **_pod_env(deployment, **env),
                ),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append((proc, log))
        return proc, log

    yield start
    for proc, _ in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc, _ in started:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    shutil.rmtree(base, ignore_errors=True)


def _replace(argv: list[str], old: str, new: str) -> list[str]:
    return [arg.replace(old, new) for arg in argv]


def _ok(condition) -> bool:
    try:
        return bool(condition())
    except httpx.HTTPError:
        return False


def test_the_stand_in_pod_is_read_only_but_for_tmp_and_var(pod):
    script = (
        f"touch {ROOT / 'read-only-probe'} || echo refused-root; "
        f'touch /tmp/probe && touch "$MEMORYHUB_VAR_DIR/probe" && echo wrote-both'
    )
    probe, log = pod("probe", ["sh", "-c", script])
    assert probe.wait(timeout=30) == 0
    assert "refused-root" in log.read_text() and "wrote-both" in log.read_text()
    assert "Read-only file system" in log.read_text()
    assert not (ROOT / "read-only-probe").exists()


def test_every_process_runs_on_a_read_only_root_filesystem(pod):
    team = make_team("readonly")
    make_space(team, "default")
    secret = make_key(team)[1]

    web_port, mcp_port, metrics_port = free_port(), free_port(), free_port()
    web_argv = _replace(
        _command("web"), "--bind=0.0.0.0:8000", f"--bind=127.0.0.1:{web_port}"
    )
    assert f"--bind=127.0.0.1:{web_port}" in web_argv
    web, web_log = pod("web", web_argv)
    worker, worker_log = pod(
        "worker",
        _command("worker"),
        MEMORYHUB_WORKER_METRICS_PORT=str(metrics_port),
        MEMORYHUB_WORKER_METRICS_ADDRESS="127.0.0.1",
    )
    beat, beat_log = pod("beat", _command("beat"))
    mcp_argv = _replace(_command("mcp"), "0.0.0.0", "127.0.0.1")  # noqa: S104
    mcp_argv = _replace(mcp_argv, "8001", str(mcp_port))
    mcp, mcp_log = pod("mcp", mcp_argv)

    url = f"http://127.0.0.1:{web_port}"
    wait_for(
        lambda: _ok(lambda: httpx.get(url + "/readyz", timeout=5).status_code == 200),
        web,
        web_log,
        timeout=120,
    )
    api = httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {secret}"}, timeout=30
    )
    added = api.post(
        "/api/v1/spaces/default/memories/", json={"content": "read-only roots hold"}
    )
    assert added.status_code == 201, added.text
    found = api.post("/api/v1/spaces/default/search/", json={"query": "read-only"})
    assert found.status_code == 200 and found.json()["results"], found.text

    wait_for(
        lambda: b"ready." in worker_log.read_bytes(), worker, worker_log, timeout=120
    )
    celery_app.send_task("memories.tasks.space_purge", args=[987654321])
    wait_for(
        lambda: (
            b"space_purge" in worker_log.read_bytes()
            and b"succeeded" in worker_log.read_bytes()
        ),
        worker,
        worker_log,
        timeout=60,
    )
    scraped = httpx.get(
        f"http://127.0.0.1:{metrics_port}/metrics",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert scraped.status_code == 200
    assert "memories.tasks.space_purge" in scraped.text  # from a pool child

    wait_for(
        lambda: b"beat: Starting" in beat_log.read_bytes(), beat, beat_log, timeout=60
    )
    wait_for(
        lambda: _ok(
            lambda: httpx.get(f"http://127.0.0.1:{mcp_port}/", timeout=2).status_code
        ),
        mcp,
        mcp_log,
        timeout=60,
    )
    time.sleep(3)  # beat ticks, the worker's children settle
    for proc, log in (
        (web, web_log),
        (worker, worker_log),
        (beat, beat_log),
        (mcp, mcp_log),
    ):
        assert proc.poll() is None, log.read_text()[-3000:]
        text = log.read_text()
        assert not [e for e in READ_ONLY_ERRORS if e in text], text[-3000:]
