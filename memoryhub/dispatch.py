"""Queueing a Celery task without letting a broker outage fail the request.

A write's follow-up work (replication, webhooks, extraction, imports) is
recorded in the database first; the task only says "do it now". So when the
broker is down the write still succeeds: :func:`send` logs one line and
returns ``False``, and the sweeper that owns the work (the outbox and
webhook sweeper, the extraction sweep) queues it again once the broker is
back (``/readyz`` names the broker meanwhile).
"""

import logging

logger = logging.getLogger("memoryhub.dispatch")


def send(task, *, args=(), countdown: float | None = None, what: str) -> bool:
    """Queue ``task(*args)``; ``False`` (and one warning line) if the broker
    cannot take it."""
    try:
        if countdown:
            task.apply_async(args=list(args), countdown=countdown)
        else:
            task.delay(*args)
    except Exception as exc:  # any broker failure: the sweeper catches up
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        logger.warning(
            "could not queue %s (%s%s); it is queued again when the broker is back",
            what,
            type(exc).__name__,
            f": {reason}" if reason else "",
        )
        return False
    return True
