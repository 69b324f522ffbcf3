"""Matrix entries of extraction: the native ``memories/extract/``,
``extractions/``, ``extraction/`` (settings) and ``summary/`` of a space, and
mem0's ``/v1/summary/`` (mem0's ``infer`` add shares the add's entry; its
read-only key case is in tests/mem0api/test_extraction.py).

The model is the scripted server of ``tests/scripted_llm.py`` (the ``world``
fixture configures it). Extracting is a write (read-only keys and viewers
403), reading events and summaries a read, changing the settings is for the
space's managers; whoever cannot see the space gets a 404, and a summary
never holds another space's memories.
"""

from accounts.actors import SYSTEM
from memories import services
from memories.models import ExtractionEvent
from tests.permission_matrix import key_lists, manages, reads, writes
from tests.permissions.registry import MARKS, OWN_ROW, Case, endpoint

SPACE = "api/v1/spaces/<slug:slug>/"
EVENTS = SPACE + "extractions/"


def _event(w):
    return services.extraction_submit(
        actor=SYSTEM,
        space=w.space,
        messages=f"{MARKS['mine']} likes extraction",
        scope={"user_id": "ex"},
        wait=True,
    )


@endpoint("POST", SPACE + "memories/extract/", "memory-extract", writes(202))
def extract(w):
    """Writers queue an extraction (202, PENDING); read-only keys and viewers
    403; nothing is queued for a space the caller cannot see."""

    def only_writers_queued(results):
        actors = sorted(ExtractionEvent.objects.values_list("surface", flat=True))
        assert len(actors) == 3  # member, owner, writer

    return Case(
        lambda who: w.space_call(
            {"messages": [{"role": "user", "content": f"fact by {who}"}]}
        ),
        then=only_writers_queued,
    )


@endpoint("GET", EVENTS, "extraction-list", reads())
def event_list(w):
    """Everyone who sees the space lists its extraction events (no content)."""
    _event(w)
    return Case(w.space_call(), hidden=w.no_content())


@endpoint("GET", EVENTS + "<uuid:event_id>/", "extraction-detail", reads())
def event_detail(w):
    """An event and its results, to those who see the space."""
    event = _event(w)

    def shows_results(who, response):
        if response.status_code == 200:
            assert response.json()["state"] == "SUCCEEDED"
            assert MARKS["mine"] in response.json()["results"][0]["memory"]

    return Case(w.space_call(event_id=event.pk), after=shows_results)


@endpoint("GET", SPACE + "extraction/", "space-extraction", reads())
def settings_read(w):
    """The space's extraction settings are readable by whoever sees it."""
    return Case(w.space_call())


@endpoint("PATCH", SPACE + "extraction/", "space-extraction", manages())
def settings_change(w):
    """Only the space's managers change its extraction settings."""

    def changed_by_owner_only(results):
        assert services.extraction_settings(w.space).instructions == "by owner"

    return Case(
        lambda who: w.space_call({"instructions": f"by {who}"}),
        then=changed_by_owner_only,
    )


@endpoint("POST", SPACE + "summary/", "space-summary", reads())
def summary(w):
    """A summary is a read of the space: its own rows, never another's."""

    def own_rows(who, response):
        if response.status_code == 200:
            assert MARKS["mine"] in response.json()["summary"], who

    return Case(w.space_call({}), after=own_rows)


@endpoint("POST", "v1/summary/", "mem0api:summary", key_lists())
def mem0_summary(w):
    """mem0's summary covers the key's own space only."""

    def own_rows(who, response):
        if response.status_code == 200:
            assert MARKS[OWN_ROW[who]] in response.json()["summary"], who

    return Case(w.call({}), after=own_rows)
