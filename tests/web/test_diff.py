"""History as a word diff: the pure function and the rendered memory page."""

import pytest
from django.utils.html import escape

from memories import services
from tests.factories import SYSTEM
from tests.web.conftest import XSS, add, memory_url, signed_in
from web.diff import word_diff


def test_a_replaced_word_is_a_deletion_then_an_insertion():
    assert word_diff("Ada likes green tea", "Ada likes jasmine tea") == [
        ("same", "Ada likes "),
        ("del", "green "),
        ("ins", "jasmine "),
        ("same", "tea"),
    ]


@pytest.mark.parametrize(
    "old, new",
    [("", "new text"), ("old text", ""), ("same", "same"), ("a  b\n c", "a b c d")],
)
def test_the_segments_rebuild_both_versions(old, new):
    segments = word_diff(old, new)
    assert "".join(t for op, t in segments if op != "ins") == old
    assert "".join(t for op, t in segments if op != "del") == new


@pytest.mark.django_db
@pytest.mark.parametrize("payload", XSS)
def test_the_memory_page_shows_the_diff_escaped_newest_first(people, space, payload):
    memory = add(space, f"Ada likes {payload} tea", user_id="ada")
    services.memory_update(
        actor=SYSTEM, space=space, memory_id=memory.pk, content="Ada likes jasmine tea"
    )
    body = signed_in(people["viewer"]).get(memory_url(space, memory.pk)).content
    body = body.decode()
    assert payload not in body
    history = body[body.index('id="history"') :]
    assert "jasmine" in history
    assert escape(payload).split()[0] in history
    assert history.index("UPDATE") < history.index("ADD")  # newest first
    assert '<p class="change diff">' in history
