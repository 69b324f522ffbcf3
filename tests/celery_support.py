"""Real Celery workers for the tests: start one, wait on its log, stop it.

The worker runs the launcher's own command line
(:func:`memoryhub.launcher.celery_worker_argv`) on a Redis broker and this
test database, in a session of its own so that stopping it reaches its
children too. The ``redis_url`` and ``real_broker`` fixtures are in
``conftest.py``.
"""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from memoryhub.launcher import BASE_DIR, celery_beat_argv, celery_worker_argv
from tests.subprocess_env import child_env

# One process, no start-up chatter with other workers: quick and predictable.
TEST_WORKER_OPTIONS = ["--pool", "solo", "--without-gossip", "--without-mingle"]


def start_worker(broker: str, log: Path, **env: str) -> subprocess.Popen:
    """A ``celery worker`` on ``broker`` and this test database; its output is
    appended to ``log``; ``env`` adds environment variables.

    Each worker gets a name of its own: a killed one's may still be known.
    """
    hostname = f"test-{os.getpid()}-{time.monotonic_ns()}@%h"
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 (fixed argv)
            celery_worker_argv(hostname=hostname, options=TEST_WORKER_OPTIONS),
            cwd=BASE_DIR,
            env=child_env(
                CELERY_BROKER_URL=broker, MEMORYHUB_CELERY_EAGER="false", **env
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def start_beat(broker: str, log: Path, **env: str) -> subprocess.Popen:
    """``celery beat`` on the database scheduler, ``broker`` and this test
    database (stop it with :func:`stop_worker`)."""
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 (fixed argv)
            celery_beat_argv(),
            cwd=BASE_DIR,
            env=child_env(
                CELERY_BROKER_URL=broker, MEMORYHUB_CELERY_EAGER="false", **env
            ),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_worker(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` to the worker's session; SIGKILL it after 30 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)  # the worker and any child (an MCP server)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_for(condition, proc: subprocess.Popen, log: Path, *, timeout: float) -> None:
    """Poll ``condition`` until true; fail with the worker's log if the worker
    exits or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            pytest.fail(f"worker exited ({proc.returncode}):\n{log.read_text()}")
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout}s; worker log:\n{log.read_text()}")
