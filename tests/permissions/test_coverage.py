"""The permission matrix is complete: an endpoint Django routes, or a tool the
MCP server lists, without an entry in ``tests/permissions`` fails here.

Exclusions are explicit, each with its reason. A stale entry (a route or
method that no longer exists) fails as well, so the matrix never claims
coverage it does not have.
"""

import asyncio
import re
from collections import Counter
from uuid import UUID

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from memories.mcp.server import build_server
from tests.permission_matrix import CALLERS
from tests.permissions import ENDPOINTS, TOOLS
from tests.permissions.mcp_tools import MCP_CALLERS
from tests.permissions.registry import normalize_route

# Whole trees outside the API surfaces.
EXCLUDED_PREFIXES = {
    "admin/": "the Django admin: HTML for staff, behind the admin site's own "
    "login and model permissions (tests/memories/test_admin.py, "
    "tests/routing/test_admin.py)",
    "spaces/": "HTML pages: tests/web/",
    "teams/": "HTML pages: tests/web/",
    "password/": "HTML pages (change, reset): tests/web/",
    "invitations/": "HTML pages (an emailed invitation link): tests/web/",
}
# Single routes outside the API surfaces. (mem0's ``v1/ping/`` is not here: it
# needs a key, so it is in the matrix.)
EXCLUDED_ROUTES = {
    "api/schema/": "the OpenAPI document: public by design, describes the API "
    "and holds no data (tests/core/test_api_schema.py)",
    "api/docs/": "Swagger UI over that document: public, no data",
    "healthz": "liveness probe for orchestrators: public, touches no data "
    "(tests/core/test_health.py)",
    "readyz": "readiness probe: public, reports component health and no data "
    "(tests/core/test_health.py)",
    "metrics": "Prometheus metrics: a bearer token of its own (closed without "
    "one), no memory data (tests/core/test_metrics.py)",
    "": "HTML pages: tests/web/",
    "signin/": "HTML pages: tests/web/",
    "signout/": "HTML pages: tests/web/",
}
# Methods no view writes by hand: HEAD is served by the GET handler, OPTIONS by
# DRF's metadata, both after the same authentication and permission checks
# (the last test below holds them to it).
DERIVED_METHODS = ("HEAD", "OPTIONS")
# A value for each URL parameter, to build a URL of any route.
SAMPLES = {
    "slug": "default",
    "team_slug": "acme",
    "key_id": 1,
    "memory_id": UUID(int=1),
    "name": "x",
    "entity_type": "user",
    "event_id": "01900000-0000-7000-8000-000000000000",
    "pk": 1,
    "project_id": "default",
    "webhook_id": "1",
}


_PARAM = re.compile(r"<(\w+)>")


def _methods(callback) -> list[str]:
    """The HTTP methods a view answers, besides the derived ones; ``["*"]`` for
    a plain function view, whose methods Django cannot tell."""
    actions = getattr(callback, "actions", None)  # DRF viewsets (and routers)
    if actions:
        methods = actions
    else:
        cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        if cls is None:
            return ["*"]
        methods = [m for m in cls.http_method_names if hasattr(cls, m)]
    return sorted({m.upper() for m in methods} - set(DERIVED_METHODS))


def routed(patterns=None, prefix: str = "", namespace: str | None = None):
    """``(route, url name, methods)`` of every URL pattern, as Django reports
    them (``api/v1/spaces/<slug:slug>/``; ``namespace:name``)."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from routed(
                pattern.url_patterns, route, pattern.namespace or namespace
            )
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield route, name, _methods(pattern.callback)


def _excluded(route: str) -> bool:
    return route in EXCLUDED_ROUTES or route.startswith(tuple(EXCLUDED_PREFIXES))


def test_every_routed_endpoint_and_method_has_a_matrix_entry():
    """Add the entry to tests/permissions/<surface>.py, or an exclusion above
    with its reason."""
    declared = {(normalize_route(e.route), e.method) for e in ENDPOINTS}
    missing = [
        f"{method} {route} ({name})"
        for route, name, methods in routed()
        if not _excluded(route)
        for method in methods
        if (normalize_route(route), method) not in declared
    ]
    assert not missing, "endpoints without a permission-matrix entry:\n" + "\n".join(
        missing
    )


def test_every_matrix_entry_is_a_routed_endpoint_under_its_name():
    """No stale, duplicated or misnamed entry; none covers an excluded route."""
    routes = {
        normalize_route(route): (name, methods) for route, name, methods in routed()
    }
    problems = []
    for entry in ENDPOINTS:
        route = normalize_route(entry.route)
        if route not in routes:
            problems.append(f"{entry.id}: Django routes no such path")
            continue
        name, methods = routes[route]
        if entry.name != name:
            problems.append(f"{entry.id}: named {entry.name!r}, Django says {name!r}")
        if entry.method not in methods:
            problems.append(f"{entry.id}: the view answers only {methods}")
        if _excluded(entry.route):
            problems.append(f"{entry.id}: both excluded and in the matrix")
    twice = [key for key, n in Counter(e.id for e in ENDPOINTS).items() if n > 1]
    assert not problems and not twice, problems + [f"{t}: twice" for t in twice]


@pytest.mark.parametrize(
    "route",
    [
        "api/v1/spaces/<slug:slug>/memories/<uuid:memory_id>/",
        "api/v1/spaces/<slug>/memories/<memory_id>/",
        r"api/v1/^spaces/(?P<slug>[^/.]+)/memories/(?P<memory_id>[0-9a-f-]+)/$",
        r"^api/v1/spaces/(?P<slug>[^/.]+)/memories/(?P<memory_id>[^/.]+)/\Z",
    ],
)
def test_a_route_is_matched_whether_path_or_router_regex(route):
    """Entries name routes as ``path()`` reports them; a DRF router's regex for
    the same URL and parameters matches them still."""
    assert normalize_route(route) == "api/v1/spaces/<slug>/memories/<memory_id>/"


def test_every_exclusion_still_matches_a_route():
    """An exclusion whose route is gone is removed, not kept as a loophole."""
    routes = [route for route, _, _ in routed()]
    stale = [r for r in EXCLUDED_ROUTES if r not in routes] + [
        p for p in EXCLUDED_PREFIXES if not any(r.startswith(p) for r in routes)
    ]
    assert not stale


def test_every_mcp_tool_the_server_lists_has_a_matrix_entry():
    """Add the tool's entry to tests/permissions/mcp_tools.py."""
    listed = [t.name for t in asyncio.run(build_server().list_tools())]
    declared = [t.name for t in TOOLS]
    assert sorted(declared) == sorted(set(declared)), "a tool is declared twice"
    assert set(listed) == set(declared), {
        "without an entry": sorted(set(listed) - set(declared)),
        "not listed by the server": sorted(set(declared) - set(listed)),
    }
    for entry in TOOLS:
        assert set(MCP_CALLERS) <= set(entry.expected), entry.name


def test_every_entry_states_its_behaviour_and_every_callers_status():
    """Each entry says what it checks and expects something of every caller."""
    for entry in [*ENDPOINTS, *TOOLS]:
        assert entry.says, entry
    for entry in ENDPOINTS:
        assert set(entry.expected) == set(CALLERS), entry.id


@pytest.mark.django_db
@pytest.mark.parametrize("method", DERIVED_METHODS)
def test_derived_methods_of_every_api_route_need_credentials(method):
    """HEAD and OPTIONS, outside the matrix, still answer 401 to anonymous."""
    client = APIClient()
    answers = {}
    for route, name, methods in routed():
        if _excluded(route) or (method == "HEAD" and "GET" not in methods):
            continue
        params = _PARAM.findall(normalize_route(route))
        url = reverse(name, kwargs={p: SAMPLES[p] for p in params} or None)
        answers[f"{method} {route}"] = client.generic(method, url).status_code
    assert answers and set(answers.values()) == {401}, answers
