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


def test_try_submit_takes_a_free_thread_or_none():
    pool = ProcessPool(2, "bounded")
    release = threading.Event()
    busy = [pool.try_submit(release.wait, 30) for _ in range(2)]
    assert all(busy) and pool.try_submit(os.getpid) is None
    release.set()
    assert [future.result(timeout=10) for future in busy] == [True, True]
    # Each thread was counted free again before its result was set.
    again = pool.try_submit(lambda: 7)
    assert again is not None and again.result(timeout=10) == 7
    pool.executor().shutdown()


def test_a_forked_child_counts_its_own_threads(monkeypatch):
    pool = ProcessPool(2, "forked")
    release = threading.Event()
    busy = [pool.try_submit(release.wait, 30) for _ in range(2)]
    parents = pool.executor()
    # A child forked now inherits the two busy threads as counted, not as
    # threads: it gets a pool, and a count, of its own.
    parent = os.getpid()
    monkeypatch.setattr(threads.os, "getpid", lambda: parent + 1)
    child = pool.try_submit(lambda: "child")
    assert child is not None and child.result(timeout=10) == "child"
    pool.executor().shutdown()
    release.set()
    assert [future.result(timeout=10) for future in busy] == [True, True]
    parents.shutdown()
