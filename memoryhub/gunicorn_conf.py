"""gunicorn settings every deployment loads (``-c python:memoryhub.gunicorn_conf``):
Prometheus's multiprocess mode across the workers of one server.

With ``PROMETHEUS_MULTIPROC_DIR`` set, each worker writes its counters to that
directory and ``/metrics`` adds them up (memoryhub/metrics.py). The directory
must start empty, and a dead worker's live gauges must be dropped.
"""

import os
from pathlib import Path

PREPARED = "MEMORYHUB_METRICS_DIR_PREPARED"


def empty_metrics_dir(path: str) -> None:
    """Create ``path`` or empty it of an earlier run's files."""
    Path(path).mkdir(parents=True, exist_ok=True)
    for stale in Path(path).glob("*.db"):
        stale.unlink()


def on_starting(server) -> None:
    """Empty the metrics directory before any worker starts — unless a
    supervisor that also runs other processes on it (``make run``) did,
    and they may be writing there already."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path and not os.environ.get(PREPARED):
        empty_metrics_dir(path)


def child_exit(server, worker) -> None:
    """Forget a dead worker's live gauges (its counters still count)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
