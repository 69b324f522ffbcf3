"""The permission matrix of every HTTP endpoint: native REST, mem0-compatible,
routing. One test per entry of ``tests/permissions``, every caller of the
cast, statuses and hidden rows checked by ``check_matrix``."""

from urllib.parse import urlsplit

import pytest
from django.urls import resolve

from tests.permission_matrix import Call, check_matrix
from tests.permissions import ENDPOINTS
from tests.permissions.registry import stating

pytestmark = pytest.mark.django_db


def _on_route(entry, call):
    """``call`` (or its builder), checked to reach the entry's route and method:
    an entry cannot quietly test some other endpoint."""

    def checked(who: str) -> Call:
        request = call(who) if callable(call) else call
        match = resolve(urlsplit(request.url).path)
        assert match.view_name == entry.name, (entry.id, request.url)
        assert request.method.upper() == entry.method, (entry.id, request.method)
        return request

    return checked


@pytest.mark.parametrize("entry", ENDPOINTS, ids=lambda entry: entry.id)
def test_every_endpoint_answers_every_caller_as_its_entry_declares(entry, world):
    """The entry's docstring says what; the registry says who gets which status."""
    world.entry = entry
    case = entry.build(world)
    with stating(entry):
        results = check_matrix(
            world.cast,
            _on_route(entry, case.call),
            entry.expected,
            hidden=world.hidden_rows() if case.hidden is None else case.hidden,
            after=case.after,
        )
        if case.then is not None:
            case.then(results)
