"""Sign-in required for every page of the team app, by default.

A middleware rather than a mixin so that a new view cannot forget it: any
view routed under the ``web`` namespace needs a signed-in user unless it is
marked with Django's ``login_not_required`` (the sign-in page is). Other
URLs (the API, mem0 routes, health probes, the admin) keep their own
authentication and answers (401 JSON, the admin's own sign-in).
"""

from django.contrib.auth.middleware import LoginRequiredMiddleware

NAMESPACE = "web"


class WebLoginRequiredMiddleware(LoginRequiredMiddleware):
    """Django's ``LoginRequiredMiddleware``, applied to the team app only."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if match is None or NAMESPACE not in match.namespaces:
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
