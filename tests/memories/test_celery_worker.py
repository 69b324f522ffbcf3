"""A real Celery worker on a real Redis broker runs MemoryHub's tasks.

The worker is a separate ``celery -A memoryhub worker`` process, configured
only through the environment (``CELERY_BROKER_URL``, ``DATABASE_URL`` of this
test database), exactly as in production. Redis comes from
``MEMORYHUB_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``). Outside
CI an unreachable Redis skips these tests with the reason; in CI
(``CI=true``) it fails them, so a broken broker never passes unnoticed.
"""

import pytest

from accounts.actors import SYSTEM
from memories import services
from memories.encryption import sealing
from memories.encryption.rotation import space_data_key_rotate
from memories.models import Memory, MemoryEvent, SpaceKey
from memoryhub.celery import app as celery_app
from tests.celery_support import start_worker, stop_worker, wait_for
from tests.factories import make_space, make_team, unit_vector

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


def test_worker_runs_a_queued_extraction(real_broker, tmp_path, llm):
    """An ``infer`` add queued by the API is run by a real worker process, which
    reads the model's settings from its environment; only the event's id
    crosses the broker."""
    from memories.models import ExtractionEvent
    from tests.factories import make_key

    log = tmp_path / "worker.log"
    proc = start_worker(
        real_broker,
        log,
        MEMORYHUB_LLM_URL=llm.url,
        MEMORYHUB_LLM_MODEL="scripted-test-model",
        MEMORYHUB_LLM_ALLOWS_CONTENT="true",
    )
    try:
        wait_for(lambda: b"ready." in log.read_bytes(), proc, log, timeout=60)
        team = make_team("extractors")
        space = make_space(team, "default")
        actor = make_key(team)[2]
        event = services.extraction_submit(
            actor=actor,
            space=space,
            messages="Quinn plays the cello",
            scope={"user_id": "quinn"},
        )  # enqueued on commit (this test's transaction commits at once)

        def done() -> bool:
            event.refresh_from_db()
            return event.finished

        wait_for(done, proc, log, timeout=60)
        assert event.state == "SUCCEEDED", event.failure
        assert event.payload is None
        memory = Memory.objects.get(space=space, user_id="quinn")
        assert sealing.memory_content(memory) == "Quinn plays the cello"
        assert b"Quinn" not in log.read_bytes()
        assert ExtractionEvent.objects.count() == 1
    finally:
        stop_worker(proc)
