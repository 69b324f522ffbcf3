"""``space_perms`` inside ``perms_memo``: one answer per request, forgotten
when a grant changes; outside the memo every call asks the database."""

import pytest

from accounts.actors import actor_for_user
from memories import permissions, services
from tests.factories import SYSTEM, make_member, make_space, make_team

pytestmark = pytest.mark.django_db


@pytest.fixture
def stranger_and_space():
    team = make_team("acme")
    space = make_space(team, "default")
    stranger = make_member(make_team("other"), "owner")
    return actor_for_user(stranger), stranger, space


def test_the_user_path_is_one_query_and_combines_role_user_and_group_grants(
    django_assert_num_queries,
):
    team, other = make_team("acme"), make_team("other")
    space = make_space(team, "default")
    viewer = make_member(team, "viewer")
    other.group.user_set.add(viewer)
    services.space_share(actor=SYSTEM, space=space, team="other", perms=["add_memory"])
    services.space_share(
        actor=SYSTEM, space=space, user=viewer.username, perms=["delete_memory"]
    )
    with django_assert_num_queries(1):
        perms = permissions.space_perms(actor_for_user(viewer), space)
    assert perms == {"view_space", "add_memory", "delete_memory"}


def test_inside_the_memo_a_repeat_costs_no_query(
    stranger_and_space, django_assert_num_queries
):
    actor, _, space = stranger_and_space
    with permissions.perms_memo(), django_assert_num_queries(1):
        assert permissions.space_perms(actor, space) == frozenset()
        assert permissions.space_perms(actor, space) == frozenset()


def test_a_grant_inside_the_memo_is_seen_at_once(stranger_and_space):
    actor, stranger, space = stranger_and_space
    with permissions.perms_memo():
        assert permissions.VIEW not in permissions.space_perms(actor, space)
        services.space_share(
            actor=SYSTEM, space=space, user=stranger.username, perms=["view_space"]
        )
        assert permissions.VIEW in permissions.space_perms(actor, space)
        services.space_unshare(actor=SYSTEM, space=space, user=stranger.username)
        assert permissions.space_perms(actor, space) == frozenset()


def test_outside_the_memo_nothing_is_remembered(
    stranger_and_space, django_assert_num_queries
):
    actor, stranger, space = stranger_and_space
    assert permissions.space_perms(actor, space) == frozenset()
    services.space_share(
        actor=SYSTEM, space=space, user=stranger.username, perms=["view_space"]
    )
    with django_assert_num_queries(1):
        assert permissions.space_perms(actor, space) == {"view_space"}
