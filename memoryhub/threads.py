"""Thread pools of this process, made anew after a fork.

A ``ThreadPoolExecutor`` created at import lives on in a forked child (a
gunicorn or Celery worker) without the parent's threads; if the parent ever
used it, the child's copy believes idle threads exist and may never start
one. :class:`ProcessPool` makes its executor on first use in each process.
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
        self._pool: tuple[int, ThreadPoolExecutor] | None = None
        self._lock = threading.Lock()

    def executor(self) -> ThreadPoolExecutor:
        """This process's executor."""
        pool = self._pool
        if pool is None or pool[0] != os.getpid():
            with self._lock:
                if self._pool is None or self._pool[0] != os.getpid():
                    executor = ThreadPoolExecutor(self.workers, self.name)
                    self._pool = (os.getpid(), executor)
                pool = self._pool
        return pool[1]

    def submit(self, fn, /, *args, **kwargs) -> Future:
        """``fn(*args, **kwargs)`` on one of this process's threads."""
        return self.executor().submit(fn, *args, **kwargs)
