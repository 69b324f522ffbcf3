"""Requests an API key authenticates, and the browser middleware they skip.

A request to an API route (``/api/v1/`` and the mem0-compatible ``/v1/`` to
``/v3/``) that carries ``Authorization: Bearer <key>`` (or ``Token``) is
authenticated by that key or refused with a 401 — never by a session — and
is answered with JSON. The middleware that serves browsers (static files,
sessions, CSRF cookies, the signed-in user, messages, the team app's CSP)
has nothing to do for it, yet cost every such request about 0.1 ms of
the web process's CPU (an in-process A/B of searches at 1,000,000
memories: 0.11 ms of wall and of CPU time, in two runs). :func:`web_only` wraps
one of those classes so that these requests pass it by; everything else —
the team app, the admin, an API call with a session cookie, a key sent to
a page — goes through it as before. Middleware that decides something for
every URL (security headers, ``CommonMiddleware``, the team app's sign-in
rule, ``X-Frame-Options``, django-axes' lockout page) or costs nothing
(django-htmx) is not wrapped.
"""

from csp import middleware as csp
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.middleware import csrf
from whitenoise import middleware as whitenoise

KEY_SCHEMES = ("bearer", "token")
API_PREFIXES = ("/api/v1/", "/v1/", "/v2/", "/v3/")
# A JSON answer loads nothing and is framed nowhere.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
_MARK = "_memoryhub_keyed"


def key_from_header(header: str) -> str | None:
    """The key in an ``Authorization`` header value, if it uses Bearer/Token."""
    if not _names_a_key(header):
        return None
    return header.strip().partition(" ")[2].strip() or None


def _names_a_key(header: str) -> bool:
    """Whether an ``Authorization`` header value uses the Bearer/Token scheme."""
    return header.strip().partition(" ")[0].lower() in KEY_SCHEMES


def is_keyed_api_request(request) -> bool:
    """Whether ``request`` is for an API route with a Bearer/Token header
    (decided once per request).

    The scheme alone decides, not whether the key is valid: with such a
    header the API authenticates by the key or answers 401.
    """
    keyed = getattr(request, _MARK, None)
    if keyed is None:
        keyed = _names_a_key(
            request.META.get("HTTP_AUTHORIZATION", "")
        ) and request.path_info.startswith(API_PREFIXES)
        setattr(request, _MARK, keyed)
    return keyed


def web_only(middleware: type, headers: dict[str, str] | None = None) -> type:
    """``middleware`` for every request but a keyed API request
    (:func:`is_keyed_api_request`), which passes it by — its hooks
    (``process_view`` and the like) included — and gets ``headers`` on its
    response where the response has none of that name."""

    def __call__(self, request):
        if not is_keyed_api_request(request):
            return middleware.__call__(self, request)
        response = self.get_response(request)
        for name, value in (headers or {}).items():
            response.headers.setdefault(name, value)
        return response

    namespace = {"__call__": __call__, "__module__": __name__}
    if headers and getattr(middleware, "async_capable", False):
        # The header step above is synchronous.
        namespace["async_capable"] = False
    for hook, passed in (
        ("process_view", lambda request, *args: None),
        ("process_exception", lambda request, exception: None),
        ("process_template_response", lambda request, response: response),
    ):
        if hasattr(middleware, hook):
            namespace[hook] = _skipping(getattr(middleware, hook), passed)
    return type(middleware.__name__, (middleware,), namespace)


def _skipping(hook, passed):
    def skipped(self, request, *args):
        if is_keyed_api_request(request):
            return passed(request, *args)
        return hook(self, request, *args)

    return skipped


# What settings.MIDDLEWARE names in place of the originals.
WhiteNoiseMiddleware = web_only(whitenoise.WhiteNoiseMiddleware)
SessionMiddleware = web_only(sessions.SessionMiddleware)
CsrfViewMiddleware = web_only(csrf.CsrfViewMiddleware)
AuthenticationMiddleware = web_only(auth.AuthenticationMiddleware)
MessageMiddleware = web_only(messages.MessageMiddleware)
CSPMiddleware = web_only(csp.CSPMiddleware, {"Content-Security-Policy": API_CSP})
