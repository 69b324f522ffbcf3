"""Rate limiting per API key (``DEFAULT_THROTTLE_RATES["api_key"]``).

Only requests authenticated by an API key are limited: agents are the
callers that can loop. Over the limit DRF raises ``Throttled``, which the
exception handler answers with 429 and a ``Retry-After`` header. Counters
live in the default cache, so set ``MEMORYHUB_CACHE_URL`` to share them
between processes.
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
