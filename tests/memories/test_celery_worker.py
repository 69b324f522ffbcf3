"""A real Celery worker on a real Redis broker runs MemoryHub's tasks.

The worker is a separate ``celery -A memoryhub worker`` process, configured
only through the environment (``CELERY_BROKER_URL``, ``DATABASE_URL`` of this
test database), exactly as in production. Redis comes from
``MEMORYHUB_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``). Outside
CI an unreachable Redis skips these tests with the reason; in CI
(``CI=true``) it fails them, so a broken broker never passes unnoticed.
"""

import signal

import pytest

from accounts.actors import SYSTEM
from memories import services
from memories.encryption import sealing
from memories.encryption.rotation import space_data_key_rotate
from memories.models import Memory, MemoryEvent, SpaceKey
from memoryhub.celery import app as celery_app
from tests.celery_support import start_worker, stop_worker, wait_for
from tests.factories import make_space, make_team, unit_vector
from tests.plugin import LOG_MARKER

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(real_broker, tmp_path):
    """A ``celery worker`` process on Redis and this test database."""
    log = tmp_path / "worker.log"
    proc = start_worker(
        real_broker,
        log,
        MEMORYHUB_REENCRYPT_BATCH_SIZE="2",  # several batches: real re-queueing
    )
    try:
        wait_for(lambda: b"ready." in log.read_bytes(), proc, log, timeout=60)
        yield proc, log
    finally:
        stop_worker(proc)


def test_worker_reencrypts_a_space_after_data_key_rotation(worker):
    proc, log = worker
    space = make_space(make_team("rotors"), "default")
    texts = [f"note {n}: the worker re-encrypts me" for n in range(7)]
    memories = [
        services.memory_add(
            actor=SYSTEM, space=space, data={"content": text}, embedding=unit_vector(n)
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

    wait_for(done, proc, log, timeout=60)
    for memory, text in zip(memories, texts, strict=True):
        memory.refresh_from_db()
        assert sealing.memory_content(memory, space) == text
    output = log.read_text()
    # 7 memories + 7 history events in batches of 2: the task re-queued itself.
    assert output.count("memories.tasks.space_reencrypt") >= 4, output


def test_worker_skips_a_vanished_row(worker):
    proc, log = worker
    celery_app.send_task("memories.tasks.space_purge", args=[987654321])
    wait_for(
        lambda: b"space_purge" in log.read_bytes() and b"succeeded" in log.read_bytes(),
        proc,
        log,
        timeout=30,
    )


def _extraction_worker(real_broker, log, llm):
    """A worker that reads the model's settings from its environment."""
    return start_worker(
        real_broker,
        log,
        MEMORYHUB_LLM_URL=llm.url,
        MEMORYHUB_LLM_MODEL="scripted-test-model",
        MEMORYHUB_LLM_ALLOWS_CONTENT="true",
        MEMORYHUB_LLM_TIMEOUT_SECONDS="60",
    )


def _submit(team_slug: str, text: str, user_id: str):
    from tests.factories import make_key

    team = make_team(team_slug)
    space = make_space(team, "default")
    event = services.extraction_submit(
        actor=make_key(team)[2],
        space=space,
        messages=text,
        scope={"user_id": user_id},
    )  # enqueued on commit (this test's transaction commits at once)
    return space, event


def test_worker_runs_a_queued_extraction(real_broker, tmp_path, llm):
    """An ``infer`` add queued by the API is run by a real worker process, which
    reads the model's settings from its environment; only the event's id
    crosses the broker."""
    from memories.models import ExtractionEvent

    log = tmp_path / "worker.log"
    proc = _extraction_worker(real_broker, log, llm)
    try:
        wait_for(lambda: b"ready." in log.read_bytes(), proc, log, timeout=60)
        # The marker: this worker's log is scanned at the end of the run too.
        text = f"Quinn plays the cello {LOG_MARKER}"
        space, event = _submit("extractors", text, "quinn")

        def done() -> bool:
            event.refresh_from_db()
            return event.finished

        wait_for(done, proc, log, timeout=60)
        assert event.state == "SUCCEEDED", event.failure
        assert event.payload is None
        memory = Memory.objects.get(space=space, user_id="quinn")
        assert sealing.memory_content(memory) == text
        assert b"Quinn" not in log.read_bytes()
        assert ExtractionEvent.objects.count() == 1
    finally:
        stop_worker(proc)


def test_worker_killed_mid_extraction_the_sweep_runs_it_again_once(
    real_broker, tmp_path, llm, settings
):
    """SIGKILL while the model is being asked: the event stays RUNNING with its
    sealed messages; the killed worker's advisory lock died with its
    connection, so beat's sweep hands it to the next worker, which finishes
    it with exactly one memory."""
    from datetime import timedelta

    from django.utils import timezone

    from memories.services import extraction

    llm.on("facts", "Rosa", delay=30, times=1)  # the first ask hangs
    log = tmp_path / "worker.log"
    first = _extraction_worker(real_broker, log, llm)
    try:
        wait_for(lambda: b"ready." in log.read_bytes(), first, log, timeout=60)
        space, event = _submit("crashers", "Rosa keeps bees", "rosa")

        def asked() -> bool:
            event.refresh_from_db()
            return event.state == "RUNNING" and len(llm.requests) == 1

        wait_for(asked, first, log, timeout=60)
        stop_worker(first, signal.SIGKILL)  # mid-task: the model call is in flight
    finally:
        stop_worker(first, signal.SIGKILL)
    event.refresh_from_db()
    assert event.state == "RUNNING" and event.payload is not None
    second = _extraction_worker(real_broker, log, llm)
    try:
        wait_for(
            lambda: log.read_bytes().count(b"ready.") >= 2, second, log, timeout=60
        )
        later = timezone.now() + timedelta(
            seconds=settings.EXTRACTION_REDISPATCH_SECONDS + 1
        )
        assert extraction.extraction_sweep(now=later)["requeued"] == 1

        def done() -> bool:
            event.refresh_from_db()
            return event.finished

        wait_for(done, second, log, timeout=60)
    finally:
        stop_worker(second)
    assert event.state == "SUCCEEDED", event.failure
    assert event.payload is None
    (memory,) = Memory.objects.filter(space=space)  # exactly once
    assert sealing.memory_content(memory) == "Rosa keeps bees"
    assert b"Rosa" not in log.read_bytes()
