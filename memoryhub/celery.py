"""The Celery application (worker and beat processes load this)."""

import os
import time

from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun

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
    from memoryhub.metrics import TASK_FAILURES, TASK_SECONDS

    began = _started.pop(task_id, None)
    outcome = "failure" if state == "FAILURE" else "success"
    if began is not None and task is not None:
        TASK_SECONDS.labels(task.name, outcome).observe(time.perf_counter() - began)
    if outcome == "failure" and task is not None:
        TASK_FAILURES.labels(task.name).inc()
