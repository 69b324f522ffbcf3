"""A real Celery worker on a real Redis broker runs MemoryHub's tasks.

The worker is a separate ``celery -A memoryhub worker`` process, configured
only through the environment (``CELERY_BROKER_URL``, ``DATABASE_URL`` of this
test database), exactly as in production. Redis comes from
``MEMORYHUB_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``). Outside
CI an unreachable Redis skips these tests with the reason; in CI
(``CI=true``) it fails them, so a broken broker never passes unnoticed.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import redis
from kombu import pools

from accounts.actors import SYSTEM
from memories import services
from memories.models import Memory, MemoryEvent, SpaceKey
from memories.rotation import space_data_key_rotate
from memoryhub.celery import app as celery_app
from tests.factories import make_space, make_team
from tests.subprocess_env import child_env

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
IN_CI = os.environ.get("CI", "").lower() == "true"

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def redis_url() -> str:
    url = os.environ.get("MEMORYHUB_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
    except redis.RedisError as exc:
        message = f"Redis at {url} is unreachable ({exc})"
        if IN_CI:
            pytest.fail(f"{message}; CI needs it for the Celery worker tests")
        pytest.skip(f"{message}; set MEMORYHUB_TEST_REDIS_URL to a reachable Redis")
    # A database of its own: nothing but these tests' messages in it.
    client.flushdb()
    return url


@pytest.fixture
def real_broker(redis_url):
    """This process publishes to Redis for real (no eager mode) during the test."""
    conf = celery_app.conf
    saved = {
        key: conf[key]
        for key in ("broker_url", "broker_transport_options", "task_always_eager")
    }
    conf.broker_url = redis_url
    conf.broker_transport_options = {}
    conf.task_always_eager = False
    celery_app._pool = None  # connection pools are built from broker_url
    celery_app.amqp._producer_pool = None
    yield redis_url
    pools.reset()  # closes the Redis connections and forgets the closed pools
    for key, value in saved.items():
        conf[key] = value
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def worker(real_broker, tmp_path):
    """A ``celery worker`` process on Redis and this test database."""
    log = tmp_path / "worker.log"
    env = child_env(
        CELERY_BROKER_URL=real_broker,
        MEMORYHUB_CELERY_EAGER="false",
        MEMORYHUB_REENCRYPT_BATCH_SIZE="2",  # several batches: real re-queueing
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 (fixed argv)
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "memoryhub",
                "worker",
                "--loglevel",
                "INFO",
                "--pool",
                "solo",
                "-Q",
                "default",
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"test-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(lambda: b"ready." in log.read_bytes(), proc, log, timeout=60)
        yield proc, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_for(condition, proc, log: Path, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            pytest.fail(f"worker exited ({proc.returncode}):\n{log.read_text()}")
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout}s; worker log:\n{log.read_text()}")


def _vector(seed: int) -> list[float]:
    vector = np.random.default_rng(seed).normal(size=384)
    return list(vector / np.linalg.norm(vector))


def test_worker_reencrypts_a_space_after_data_key_rotation(worker):
    proc, log = worker
    space = make_space(make_team("rotors"), "default")
    texts = [f"note {n}: the worker re-encrypts me" for n in range(7)]
    memories = [
        services.memory_add(
            actor=SYSTEM, space=space, data={"content": text}, embedding=_vector(n)
        )[0]
        for n, text in enumerate(texts)
    ]

    new_key = space_data_key_rotate(actor=SYSTEM, space=space)  # enqueues on commit

    def done() -> bool:
        return (
            not Memory.objects.filter(space=space)
            .exclude(key_version=new_key.version)
            .exists()
            and not MemoryEvent.objects.filter(memory__space=space)
            .exclude(key_version=new_key.version)
            .exists()
            and SpaceKey.objects.filter(space=space).count() == 1
        )

    _wait_for(done, proc, log, timeout=60)
    for memory, text in zip(memories, texts, strict=True):
        memory.refresh_from_db()
        assert services.memory_content(memory, space) == text
    output = log.read_text()
    # 7 memories + 7 history events in batches of 2: the task re-queued itself.
    assert output.count("memories.tasks.space_reencrypt") >= 4, output


def test_worker_skips_a_vanished_row(worker):
    proc, log = worker
    celery_app.send_task("memories.tasks.space_purge", args=[987654321])
    _wait_for(
        lambda: b"space_purge" in log.read_bytes() and b"succeeded" in log.read_bytes(),
        proc,
        log,
        timeout=30,
    )
