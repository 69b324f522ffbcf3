"""gunicorn settings every deployment loads (``-c python:memoryhub.gunicorn_conf``):
Prometheus's multiprocess mode across the workers of one server.

With ``PROMETHEUS_MULTIPROC_DIR`` set, each worker writes its counters to that
directory and ``/metrics`` adds them up (memoryhub/metrics.py). The directory
must start empty, and a dead worker's live gauges must be dropped.
"""

import os
from pathlib import Path


def on_starting(server) -> None:
    """Empty the metrics directory before any worker starts."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path:
        Path(path).mkdir(parents=True, exist_ok=True)
        for stale in Path(path).glob("*.db"):
            stale.unlink()


def child_exit(server, worker) -> None:
    """Forget a dead worker's live gauges (its counters still count)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
