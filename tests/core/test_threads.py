"""Per-process thread pools (memoryhub.threads)."""

import os
import threading

from memoryhub import threads
from memoryhub.threads import ProcessPool


def test_one_executor_per_process(monkeypatch):
    pool = ProcessPool(2, "probe")
    name = pool.submit(lambda: threading.current_thread().name).result(timeout=10)
    assert name.startswith("probe")
    first = pool.executor()
    assert pool.executor() is first
    parent = os.getpid()
    # As in a forked child: another process id, so a new executor with
    # threads of its own, not the parent's copy.
    monkeypatch.setattr(threads.os, "getpid", lambda: parent + 1)
    child = pool.executor()
    assert child is not first
    assert pool.submit(lambda x, y=0: x + y, 2, y=3).result(timeout=10) == 5
    first.shutdown()
    child.shutdown()


def test_nothing_starts_before_the_first_submit():
    pool = ProcessPool(1, "idle")
    assert pool._pool is None
