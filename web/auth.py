"""Sign-in helpers: the client address django-axes counts failures by, and
the password change that counts a wrong current password as a failed
sign-in (a stolen session must not be a way to guess the password)."""

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib.auth import user_login_failed
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import PasswordChangeView
from django.core.exceptions import ValidationError


def client_ip(request) -> str | None:
    """``REMOTE_ADDR``, or the first address of ``MEMORYHUB_SIGNIN_IP_HEADER``
    when MemoryHub runs behind a proxy that sets it."""
    header = settings.SIGNIN_IP_HEADER
    if header:
        key = "HTTP_" + header.upper().replace("-", "_")
        forwarded = request.META.get(key, "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR")


class ThrottledPasswordChangeForm(PasswordChangeForm):
    """A wrong current password is a failed sign-in for django-axes: the same
    limit, cool-off and lockout page as the sign-in forms."""

    def __init__(self, *args, request=None, **kwargs):
        self.request = request
        super().__init__(*args, **kwargs)

    def clean_old_password(self):
        try:
            return super().clean_old_password()
        except ValidationError:
            user_login_failed.send(
                sender=type(self),
                credentials={"username": self.user.get_username()},
                request=self.request,
            )
            raise


class ThrottledPasswordChangeView(PasswordChangeView):
    form_class = ThrottledPasswordChangeForm

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def post(self, request, *args, **kwargs):
        credentials = {"username": request.user.get_username()}
        AxesProxyHandler.update_request(request)
        if AxesProxyHandler.is_locked(request, credentials):
            return get_lockout_response(request, credentials=credentials)
        return super().post(request, *args, **kwargs)
