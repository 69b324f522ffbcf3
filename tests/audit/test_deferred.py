"""A read's audit row is written after its response has been sent: the
WSGI server closes the response once the body is out, and only then does
the row reach the database. Nothing is lost, and a failure then is one
warning line."""

import io
import json
import logging

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection

from audit.models import AccessEvent
from tests.api_support import add_memory
from tests.factories import make_key

pytestmark = pytest.mark.django_db(transaction=True)


def _search_environ(secret: str, space) -> dict:
    body = json.dumps({"query": "audited", "mode": "vector"}).encode()
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": f"/api/v1/spaces/{space.slug}/search/",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "HTTP_AUTHORIZATION": f"Bearer {secret}",
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def _serve(space):
    """The response body as a WSGI server sends it, and its close()."""
    secret = make_key(space.team)[1]
    statuses = []
    chunks = WSGIHandler()(
        _search_environ(secret, space), lambda s, h: statuses.append(s)
    )
    body = b"".join(chunks)
    assert statuses == ["200 OK"], body
    return json.loads(body), chunks.close


def test_the_row_is_written_when_the_server_closes_the_response(space):
    memory = add_memory(space, "audited fact")
    answer, close = _serve(space)
    assert [r["id"] for r in answer["results"]] == [str(memory.pk)]
    searches = AccessEvent.objects.filter(action="memory.search")
    assert not searches.exists()  # the client has its answer; no row yet
    close()
    (row,) = searches
    assert row.memory_ids == [memory.pk] and row.surface == "api"
    assert not connection.in_atomic_block


def test_a_failure_after_the_response_is_one_warning_line(space, monkeypatch, caplog):
    from audit import services

    add_memory(space, "audited fact")
    _, close = _serve(space)

    def refuse(rows):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "_insert_reads", refuse)
    with caplog.at_level(logging.WARNING, logger="audit.services"):
        close()  # Django would swallow it unseen; it is logged instead
    assert "1 read audit row(s) could not be written: RuntimeError" in caplog.text
    assert "audited" not in caplog.text


def test_outside_a_request_the_row_is_written_at_once(space):
    from accounts.actors import SYSTEM
    from audit.services import access_record

    access_record(actor=SYSTEM, action="memory.search", surface="mcp", space=space)
    assert AccessEvent.objects.filter(surface="mcp").count() == 1
