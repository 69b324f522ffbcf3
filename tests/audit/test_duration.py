"""The audit records how long the request had taken when it wrote the row."""

import pytest

from accounts.actors import SYSTEM
from audit.models import AccessEvent
from audit.services import access_record
from memoryhub import timing

pytestmark = pytest.mark.django_db


def test_outside_a_request_there_is_no_duration():
    access_record(actor=SYSTEM, action="memory.read", surface="cli")
    assert AccessEvent.objects.get().duration_ms is None


def test_inside_a_request_the_duration_is_recorded(rf):
    def view(request):
        access_record(actor=SYSTEM, action="memory.read", surface="api")
        return "done"

    assert timing.RequestTimingMiddleware(view)(rf.get("/")) == "done"
    assert AccessEvent.objects.get().duration_ms > 0
    assert timing.elapsed_ms() is None  # reset after the request
