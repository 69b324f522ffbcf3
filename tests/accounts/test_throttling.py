"""The per-key rate limit's sliding window: two integers per key, whatever
the rate, and the last window's requests fading out as time passes."""

from types import SimpleNamespace

import pytest
from django.core.cache import cache

from accounts.actors import actor_for_key
from accounts.api.throttling import ApiKeyRateThrottle
from tests.factories import make_key


@pytest.fixture
def request_of(team):
    api_key, _, _ = make_key(team)
    return SimpleNamespace(auth=actor_for_key(api_key))


def _throttle(now: float) -> ApiKeyRateThrottle:
    throttle = ApiKeyRateThrottle()
    throttle.timer = lambda: now
    return throttle


@pytest.mark.django_db
def test_the_window_slides(settings, request_of):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "10/min"},
    }
    cache.clear()
    start = 600.0  # the start of a minute window
    assert all(_throttle(start + i).allow_request(request_of, None) for i in range(10))
    over = _throttle(start + 10)
    assert not over.allow_request(request_of, None)
    assert 1 <= over.wait() <= 50  # the rest of this window at most
    # Just after the window turns, the burst still counts almost whole.
    turned = _throttle(start + 60)
    assert not turned.allow_request(request_of, None)
    assert turned.wait() >= 1  # never "retry after 0 seconds"
    # Half way through the next window the last one counts half: 5 more.
    half = start + 90
    allowed = [_throttle(half).allow_request(request_of, None) for _ in range(8)]
    assert allowed == [True] * 5 + [False] * 3
    # Two windows later nothing is left of the burst.
    later = start + 180
    assert all(_throttle(later).allow_request(request_of, None) for _ in range(10))
    # What the cache holds per key is a count per window, not a history.
    stored = [value for value in cache._cache.values()]  # locmem: pickled ints
    assert stored and all(len(value) < 64 for value in stored)


@pytest.mark.django_db
def test_unlimited_without_a_key_or_a_rate(settings, request_of):
    assert _throttle(0).allow_request(SimpleNamespace(auth=None), None)
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": None},
    }
    assert all(_throttle(0).allow_request(request_of, None) for _ in range(100))
