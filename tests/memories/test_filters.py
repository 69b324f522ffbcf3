"""The filter language: what each condition matches, and the errors people see."""

import uuid
from datetime import UTC, datetime

import pytest

from memories.filters import MAX_CONDITIONS, MAX_DEPTH, FilterError, compile_filters
from memories.models import Memory
from memoryhub.errors import InvalidInput

# --- errors (no database) -----------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            {"created_at": {"gte": "yesterday"}},
            "filters.created_at.gte: 'yesterday' is not an ISO 8601 date",
        ),
        (
            {"user_id": {"foo": "x"}},
            "filters.user_id: unknown operator 'foo' for user_id; use one of: "
            "eq, ne, in, nin, contains, icontains or '*'",
        ),
        (
            {"user_id": {"gte": "a"}},
            "filters.user_id: 'gte' does not apply to user_id",
        ),
        ({"AND": {"user_id": "a"}}, "filters.AND: must be a list of filter objects"),
        ({"OR": []}, "filters.OR: must be a list of filter objects"),
        (
            {"OR": [{"user_id": "a"}, "b"]},
            "filters.OR[1]: must be an object of conditions, not str",
        ),
        ({"or": [{"user_id": "a"}]}, "filters.or: logical operators are upper-case"),
        ({"state": "gone"}, "filters.state: unknown state 'gone'; use one of: active"),
        ({"user_id": {"in": "alice"}}, "filters.user_id.in: must be a non-empty list"),
        ({"user_id": {"in": ["a", None]}}, "filters.user_id.in[1]: None is not a"),
        ({"user_id": {}}, "filters.user_id: empty operator object"),
        ({"score": {"gte": True}}, "filters.score.gte: True is not a number or a"),
        ({"score": {"gte": [1]}}, "filters.score.gte: [1] is not a number or a"),
        (
            {"address": {"city": "Lyon"}},
            "filters.address: unknown operator 'city' for metadata.address "
            '(compare a whole object with {"eq": {...}})',
        ),
        ({"metadata": []}, "filters.metadata: must be an object of {key: condition}"),
        ({"metadata": {"": 1}}, "filters.metadata.: metadata keys are 1 to 255"),
        (
            {"keywords": "hiking"},
            "filters.keywords: keywords filters are not available",
        ),
        ({"expires_at": {"lt": 5}}, "filters.expires_at.lt: 5 is not an ISO 8601"),
        ({"NOT": []}, "filters.NOT: must be an object or a non-empty list"),
    ],
)
def test_invalid_filters_say_where_and_what_to_use(filters, message):
    """Each mistake names its path and the fix."""
    with pytest.raises(FilterError) as caught:
        compile_filters(filters)
    assert str(caught.value).startswith(message), str(caught.value)


def test_filter_error_is_a_value_error_and_an_invalid_input():
    """The API layer maps it to 400; plain callers can catch ValueError."""
    with pytest.raises(ValueError) as caught:
        compile_filters([{"user_id": "a"}])
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.field == "filters"


def test_nesting_is_limited():
    """Deeply nested filters are refused with the limit in the message."""
    spec = {"user_id": "a"}
    for _ in range(MAX_DEPTH):
        spec = {"AND": [spec]}
    with pytest.raises(FilterError, match=f"deeper than {MAX_DEPTH} levels"):
        compile_filters(spec)


def test_number_of_conditions_is_limited():
    """More than MAX_CONDITIONS conditions are refused."""
    spec = {"OR": [{f"k{i}": i} for i in range(MAX_CONDITIONS + 1)]}
    with pytest.raises(FilterError, match=f"more than {MAX_CONDITIONS} conditions"):
        compile_filters(spec)
    compile_filters({"OR": [{f"k{i}": i} for i in range(MAX_CONDITIONS)]})


def test_empty_filters_match_everything():
    """None and {} compile to an empty Q."""
    assert not compile_filters(None)
    assert not compile_filters({})


def test_metadata_keys_are_never_parsed_as_lookups():
    """A key like ``a__contains`` stays a key: no Django lookup injection."""
    sql, params = Memory.objects.filter(
        compile_filters({"a__contains": "x"})
    ).query.sql_with_params()
    assert "a__contains" in params
    assert "@>" not in sql


# --- semantics (database) ----------------------------------------------------------


@pytest.fixture
def make(space):
    """Create a memory in ``space`` with the given clear fields."""

    def create(**fields):
        memory = Memory.objects.create(
            space=space,
            content=b"sealed",
            content_mac=uuid.uuid4().bytes,
            **fields,
        )
        if "created_at" in fields:  # auto_now_add ignores the given value
            Memory.objects.filter(pk=memory.pk).update(created_at=fields["created_at"])
        return memory

    return create


def ids(space, filters, **kwargs):
    """The memory ids in ``space`` matching ``filters``."""
    q = compile_filters(filters, **kwargs)
    return set(
        Memory.objects.filter(space=space).filter(q).values_list("pk", flat=True)
    )


@pytest.mark.django_db
def test_metadata_numbers_compare_numerically_and_only_with_numbers(space, make):
    """9 < 10 numerically; strings and nulls never satisfy a numeric bound."""
    nine = make(metadata={"score": 9})
    ten = make(metadata={"score": 10})
    half = make(metadata={"score": 9.5})
    text = make(metadata={"score": "abc"})
    null = make(metadata={"score": None})
    bare = make(metadata={})
    assert ids(space, {"score": {"gte": 9.5}}) == {ten.pk, half.pk}
    assert ids(space, {"score": {"lt": 10}}) == {nine.pk, half.pk}
    assert ids(space, {"score": {"gt": 9, "lte": 10}}) == {ten.pk, half.pk}
    assert ids(space, {"score": 10}) == {ten.pk}
    assert ids(space, {"score": {"eq": 10.0}}) == {ten.pk}
    assert ids(space, {"score": {"in": [9, "abc"]}}) == {nine.pk, text.pk}
    assert ids(space, {"score": None}) == {null.pk}
    assert ids(space, {"score": "*"}) == {nine.pk, ten.pk, half.pk, text.pk}
    everything_else = {nine.pk, text.pk, null.pk, bare.pk}
    assert ids(space, {"NOT": {"score": {"gte": 9.5}}}) == everything_else


@pytest.mark.django_db
def test_metadata_strings_compare_as_text(space, make):
    """ISO dates in metadata compare as strings; numbers are not strings."""
    early = make(metadata={"due": "2024-01-05"})
    late = make(metadata={"due": "2024-03-01"})
    make(metadata={"due": 20240301})
    assert ids(space, {"due": {"gte": "2024-02-01"}}) == {late.pk}
    assert ids(space, {"due": {"lt": "2024-02-01"}}) == {early.pk}


@pytest.mark.django_db
def test_ne_and_nin_include_memories_without_the_key(space, make):
    """'not equal to x' holds for a memory that has no such key."""
    done = make(metadata={"status": "done"})
    todo = make(metadata={"status": "todo"})
    bare = make(metadata={})
    assert ids(space, {"status": {"ne": "done"}}) == {todo.pk, bare.pk}
    assert ids(space, {"status": {"nin": ["done", "todo"]}}) == {bare.pk}
    assert ids(space, {"NOT": {"status": "done"}}) == {todo.pk, bare.pk}
    assert done.pk not in ids(space, {"metadata": {"status": {"ne": "done"}}})


@pytest.mark.django_db
def test_metadata_contains_matches_substrings_and_array_elements(space, make):
    """contains: substring of a string or element of an array; icontains: case."""
    title = make(metadata={"title": "Weekly Meeting notes"})
    tags = make(metadata={"title": ["meeting", "weekly"]})
    make(metadata={"title": "lunch"})
    assert ids(space, {"title": {"contains": "Meeting"}}) == {title.pk}
    assert ids(space, {"title": {"contains": "meeting"}}) == {tags.pk}
    assert ids(space, {"title": {"icontains": "MEETING"}}) == {title.pk}
    assert ids(space, {"metadata": {"title": {"contains": "notes"}}}) == {title.pk}


@pytest.mark.django_db
def test_metadata_object_equality_and_odd_keys(space, make):
    """Whole-object equality via eq; keys with '__' are literal keys."""
    nested = make(metadata={"address": {"city": "Lyon"}, "a__b": 1})
    make(metadata={"address": {"city": "Paris"}, "a": {"b": 1}})
    assert ids(space, {"address": {"eq": {"city": "Lyon"}}}) == {nested.pk}
    assert ids(space, {"a__b": 1}) == {nested.pk}


@pytest.mark.django_db
def test_scope_fields_wildcard_in_and_text_operators(space, make):
    """'*' means non-empty; in/nin/ne/contains/icontains work on ids."""
    alice = make(user_id="alice", agent_id="planner")
    bob = make(user_id="bob")
    nobody = make()
    assert ids(space, {"user_id": "*"}) == {alice.pk, bob.pk}
    assert ids(space, {"agent_id": "*"}) == {alice.pk}
    assert ids(space, {"user_id": {"in": ["alice", "carol"]}}) == {alice.pk}
    assert ids(space, {"user_id": {"nin": ["alice"]}}) == {bob.pk, nobody.pk}
    assert ids(space, {"user_id": {"ne": "alice"}}) == {bob.pk, nobody.pk}
    assert ids(space, {"user_id": {"icontains": "LIC"}}) == {alice.pk}
    assert ids(space, {"user_id": {"contains": "LIC"}}) == set()


@pytest.mark.django_db
def test_categories_membership(space, make):
    """Plain value / contains: has it; in: any of; nin: none of; '*': any."""
    travel = make(categories=["travel", "food"])
    work = make(categories=["work"])
    empty = make()
    assert ids(space, {"categories": "travel"}) == {travel.pk}
    assert ids(space, {"categories": {"contains": "food"}}) == {travel.pk}
    assert ids(space, {"categories": {"contains": ["food", "travel"]}}) == {travel.pk}
    assert ids(space, {"categories": {"in": ["work", "x"]}}) == {work.pk}
    assert ids(space, {"categories": {"nin": ["work"]}}) == {travel.pk, empty.pk}
    assert ids(space, {"categories": {"icontains": "FOO"}}) == {travel.pk}
    assert ids(space, {"categories": "*"}) == {travel.pk, work.pk}


@pytest.mark.django_db
def test_bare_dates_cover_the_whole_utc_day(space, make):
    """lte 2024-07-31 includes the 31st; gt excludes it; eq is the day."""
    on_31st = make(created_at=datetime(2024, 7, 31, 18, 0, tzinfo=UTC))
    on_1st = make(created_at=datetime(2024, 8, 1, 0, 0, tzinfo=UTC))
    june = make(created_at=datetime(2024, 6, 30, 23, 59, tzinfo=UTC))
    july = {"gte": "2024-07-01", "lte": "2024-07-31"}
    assert ids(space, {"created_at": july}) == {on_31st.pk}
    assert ids(space, {"created_at": {"gt": "2024-07-31"}}) == {on_1st.pk}
    assert ids(space, {"created_at": "2024-07-31"}) == {on_31st.pk}
    assert ids(space, {"created_at": {"lt": "2024-07-01"}}) == {june.pk}
    instant = {"gte": "2024-07-31T18:00:00Z"}
    assert ids(space, {"created_at": instant}) == {on_31st.pk, on_1st.pk}
    naive_is_utc = {"lt": "2024-07-31T18:00:00"}
    assert ids(space, {"created_at": naive_is_utc}) == {june.pk}


@pytest.mark.django_db
def test_expiry_wildcard_and_state(space, make):
    """expires_at '*' means it has an expiry; state accepts in/ne."""
    expiring = make(expires_at=datetime(2030, 1, 1, tzinfo=UTC))
    archived = make(state="archived")
    assert ids(space, {"expires_at": "*"}) == {expiring.pk}
    assert ids(space, {"state": {"in": ["archived"]}}) == {archived.pk}
    assert ids(space, {"state": {"ne": "archived"}}) == {expiring.pk}


@pytest.mark.django_db
def test_logical_combinations(space, make):
    """AND / OR / NOT nest like the mem0 examples."""
    a = make(user_id="alice", metadata={"priority": 8, "category": "work"})
    b = make(user_id="alice", metadata={"priority": 2, "category": "urgent"})
    c = make(user_id="bob", metadata={"priority": 9, "category": "work"})
    spec = {
        "AND": [
            {"user_id": "alice"},
            {"OR": [{"category": "urgent"}, {"priority": {"gte": 7}}]},
        ]
    }
    assert ids(space, spec) == {a.pk, b.pk}
    assert ids(space, {"NOT": [{"user_id": "alice"}, {"priority": 8}]}) == {
        b.pk,
        c.pk,
    }
    assert ids(space, {"user_id": "alice", "category": "work"}) == {a.pk}


@pytest.mark.django_db
def test_keywords_use_blind_tokens(space, make):
    """keywords: every word must be in the memory's blind index."""
    from memoryhub.crypto.blind import blind_tokens

    key = b"k" * 32

    def tokens(text):
        return blind_tokens(key, text)

    hiking = make(keyword_index=" ".join(tokens("Loves hiking in the Alps")))
    make(keyword_index=" ".join(tokens("Hikes rarely, prefers the beach")))
    assert ids(space, {"keywords": "hikes alps"}, keyword_tokens=tokens) == {hiking.pk}
    unindexed = make()
    assert unindexed.pk in ids(
        space, {"NOT": {"keywords": "alps"}}, keyword_tokens=tokens
    )
    with pytest.raises(FilterError, match="no searchable words"):
        compile_filters({"keywords": "the"}, keyword_tokens=tokens)
