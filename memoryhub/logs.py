"""Structured logs: one JSON object per line, each with the request id.

- :class:`RequestLogMiddleware` takes the request id from ``X-Request-ID``
  (letters, digits, ``.-_``, at most 128) or makes one, returns it in the
  response, and writes one ``request`` line per request: method, **route
  template**, status, duration, actor label. Never the path or query string
  (a search's words travel in it), never bodies.
- The id rides along into Celery tasks queued during the request (a message
  header) and into their log lines, so one request can be followed through
  the worker.
- :func:`formatter` renders every record — Django's, Celery's, ours — as
  JSON (``MEMORYHUB_LOG_FORMAT=json``, the default) or as aligned text for a
  terminal (``console``, what ``make run`` uses), with structlog.

Nothing here adds content: messages are written by code that never logs
memory text, queries or secrets (``tests/core/test_logs.py`` plants a marker
in content and queries and scans what was logged).
"""

import logging
import re
import time
import uuid
from contextvars import ContextVar

import structlog

HEADER = "X-Request-ID"
CELERY_HEADER = "memoryhub_request_id"
_VALID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
logger = logging.getLogger("memoryhub.request")


def current() -> str | None:
    """The request id of the work in progress (a request or a task)."""
    return request_id.get()


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (``None`` outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def _add_request_id(logger, method, event_dict):
    record = event_dict.get("_record")
    rid = getattr(record, "request_id", None) if record else request_id.get()
    if rid:
        event_dict["request_id"] = rid
    return event_dict


def _drop_request(logger, method, event_dict):
    """Django passes the request object along with its errors; its repr holds
    the full path with the query string (a search's words): never logged."""
    event_dict.pop("request", None)
    return event_dict


def formatter(fmt: str = "json") -> structlog.stdlib.ProcessorFormatter:
    """The ``logging`` formatter of every handler (see ``settings.LOGGING``)."""
    renderer = (
        structlog.dev.ConsoleRenderer(colors=False)
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            _drop_request,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _add_request_id,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )


def json_formatter():
    return formatter("json")


def console_formatter():
    return formatter("console")


def _actor_label(request) -> str:
    auth = getattr(request, "auth", None)
    label = getattr(auth, "label", None)
    if label:
        return label
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return f"user:{user.pk}"
    return "anonymous"


class RequestLogMiddleware:
    """Request id in and out, and one ``request`` log line per request."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        sent = request.headers.get(HEADER, "")
        rid = sent if _VALID.match(sent) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response[HEADER] = rid
            match = getattr(request, "resolver_match", None)
            logger.info(
                "request",
                extra={
                    "method": request.method,
                    "route": getattr(match, "route", None) or "unmatched",
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    "actor": _actor_label(request),
                },
            )
            return response
        finally:
            request_id.reset(token)


def celery_publish(headers=None, **kwargs) -> None:
    """``before_task_publish``: the request id goes with the task."""
    rid = request_id.get()
    if rid and headers is not None:
        headers[CELERY_HEADER] = rid


def celery_prerun(task=None, **kwargs) -> None:
    """``task_prerun``: the task's log lines carry the request's id."""
    rid = getattr(getattr(task, "request", None), CELERY_HEADER, None)
    request_id.set(rid)
