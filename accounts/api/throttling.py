"""Rate limiting per API key (``DEFAULT_THROTTLE_RATES["api_key"]``).

Only requests authenticated by an API key are limited: agents are the
callers that can loop. Over the limit DRF raises ``Throttled``, which the
exception handler answers with 429 and a ``Retry-After`` header. Counters
live in the default cache, so set ``MEMORYHUB_CACHE_URL`` to share them
between processes.

A sliding window made of two fixed windows (this one's count, and the last
one's weighted by how much of it still overlaps the sliding window), kept
as two integers per key: one cache read and one atomic increment per
request, whatever the rate. DRF's own ``SimpleRateThrottle`` keeps every
request's timestamp in one cached list and reads and rewrites it whole on
each request: at ``6000/min`` that is a 50 KB value per request.
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.actors import Actor


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Limits each API key to the configured rate (e.g. ``6000/min``)."""

    scope = "api_key"

    def get_rate(self):
        """The current setting (DRF binds the class attribute once at import)."""
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        """One bucket per key; session users and anonymous callers are not limited."""
        actor = getattr(request, "auth", None)
        if not isinstance(actor, Actor) or actor.api_key is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": actor.api_key.pk}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        window, offset = divmod(self.timer(), self.duration)
        current, previous = f"{self.key}:{int(window)}", f"{self.key}:{int(window) - 1}"
        counts = self.cache.get_many([current, previous])
        self.current = counts.get(current, 0)
        self.previous = counts.get(previous, 0)
        self.elapsed = offset / self.duration  # share of this window gone by
        if self.previous * (1 - self.elapsed) + self.current >= self.num_requests:
            return False
        keep = 2 * self.duration + 1  # the next window still reads this one
        if not self.cache.add(current, 1, timeout=keep):
            try:
                self.cache.incr(current)
            except ValueError:  # expired between the add and the increment
                self.cache.set(current, 1, timeout=keep)
        return True

    def wait(self):
        """Seconds until the estimate drops below the limit (at most the rest
        of this window, then the last window no longer counts; at least one,
        so ``Retry-After`` never says 0)."""
        rest = (1 - self.elapsed) * self.duration
        if self.previous > 0 and self.current < self.num_requests:
            # previous * (1 - elapsed - t / duration) + current < num_requests
            share = (self.num_requests - self.current) / self.previous
            rest = min(rest, (1 - self.elapsed - share) * self.duration)
        return max(1.0, rest)
