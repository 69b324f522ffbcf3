"""The Celery application (worker and beat processes load this)."""

import os
import time

from celery import Celery
from celery.signals import (
    before_task_publish,
    celeryd_init,
    task_postrun,
    task_prerun,
    worker_process_shutdown,
    worker_ready,
)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "memoryhub.settings")

app = Celery("memoryhub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

_started: dict[str, float] = {}


@before_task_publish.connect
def _carry_request_id(headers=None, **kwargs) -> None:
    from memoryhub.logs import celery_publish

    celery_publish(headers=headers)


@task_prerun.connect
def _task_started(task_id=None, task=None, **kwargs) -> None:
    from memoryhub.logs import celery_prerun

    _started[task_id] = time.perf_counter()
    celery_prerun(task=task)


@task_postrun.connect
def _task_finished(task_id=None, task=None, state=None, **kwargs) -> None:
    """Task durations and failures for /metrics (by task name only)."""
    from memoryhub.metrics import TASK_FAILURES, TASK_SECONDS, record_pool

    began = _started.pop(task_id, None)
    outcome = "failure" if state == "FAILURE" else "success"
    if began is not None and task is not None:
        TASK_SECONDS.labels(task.name, outcome).observe(time.perf_counter() - began)
    if outcome == "failure" and task is not None:
        TASK_FAILURES.labels(task.name).inc()
    record_pool()


@celeryd_init.connect
def _fresh_metrics_dir(**kwargs) -> None:
    """A worker on a metrics directory of its own (its container's) starts it
    empty, as gunicorn does; under ``make run`` the launcher prepared the
    shared one and the web may be writing there already."""
    from memoryhub.gunicorn_conf import PREPARED, empty_metrics_dir

    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if path and not os.environ.get(PREPARED):
        empty_metrics_dir(path)


@worker_process_shutdown.connect
def _forget_live_gauges(**kwargs) -> None:
    """A pool process that exits takes its live gauges (its pool) along."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())


@worker_ready.connect
def _serve_metrics(**kwargs) -> None:
    """A worker's own metrics port (``MEMORYHUB_WORKER_METRICS_PORT``), for
    workers that run apart from the web (their own pods)."""
    from django.conf import settings

    from memoryhub.metrics import serve_worker_metrics

    if settings.WORKER_METRICS_PORT:
        serve_worker_metrics(
            settings.WORKER_METRICS_PORT, settings.WORKER_METRICS_ADDRESS
        )
