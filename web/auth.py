"""Sign-in helpers: the client address django-axes counts failures by."""

from django.conf import settings


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
