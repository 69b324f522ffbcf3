"""Thread pools of this process, made anew after a fork.

A ``ThreadPoolExecutor`` created at import lives on in a forked child (a
gunicorn or Celery worker) without the parent's threads; if the parent ever
used it, the child's copy believes idle threads exist and may never start
one. :class:`ProcessPool` makes its executor on first use in each process,
and with it the count of its busy threads (:meth:`ProcessPool.try_submit`):
a fork taken while a parent's thread was busy leaves the child every thread.
"""

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor


class ProcessPool:
    """A ``ThreadPoolExecutor`` of ``workers`` threads named ``name``-N, one
    per process, made when the process first submits to it."""

    def __init__(self, workers: int, name: str) -> None:
        self.workers = workers
        self.name = name
        self._pool: (
            tuple[int, ThreadPoolExecutor, threading.BoundedSemaphore] | None
        ) = None
        self._lock = threading.Lock()

    def _current(self) -> tuple[int, ThreadPoolExecutor, threading.BoundedSemaphore]:
        pool = self._pool
        if pool is None or pool[0] != os.getpid():
            with self._lock:
                if self._pool is None or self._pool[0] != os.getpid():
                    executor = ThreadPoolExecutor(self.workers, self.name)
                    idle = threading.BoundedSemaphore(self.workers)
                    self._pool = (os.getpid(), executor, idle)
                pool = self._pool
        return pool

    def executor(self) -> ThreadPoolExecutor:
        """This process's executor."""
        return self._current()[1]

    def submit(self, fn, /, *args, **kwargs) -> Future:
        """``fn(*args, **kwargs)`` on one of this process's threads."""
        return self.executor().submit(fn, *args, **kwargs)

    def try_submit(self, fn, /, *args, **kwargs) -> Future | None:
        """:meth:`submit` if a thread is free for it at once, else None (the
        caller runs ``fn`` itself rather than wait in the queue). Only
        calls made through here count; keep a pool to one of the two."""
        _, executor, idle = self._current()
        if not idle.acquire(blocking=False):
            return None

        def run():
            try:
                return fn(*args, **kwargs)
            finally:
                idle.release()  # before the result is set: its waiter may submit

        try:
            return executor.submit(run)
        except BaseException:
            idle.release()
            raise
