"""Domain errors raised by services and mapped to HTTP by the API layer.

Every surface (REST, mem0-compatible API, MCP, UI, commands) catches these and
shows ``message`` — which must be actionable and never contain plaintext
memory content.
"""


class DomainError(Exception):
    """Base error: ``message`` for people, ``status`` for HTTP, ``code`` for clients."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """The request is well-formed but a value is not acceptable."""


class NotFound(DomainError):
    """The object does not exist or the caller may not see it."""

    status = 404
    code = "not_found"


class Forbidden(DomainError):
    """The caller sees the object but may not do this to it."""

    status = 403
    code = "permission_denied"


class Conflict(DomainError):
    """The request conflicts with the current state (immutable, duplicate...)."""

    status = 409
    code = "conflict"


class Gone(DomainError):
    """The object existed but is no longer usable (a used or expired link)."""

    status = 410
    code = "gone"


class TooLarge(DomainError):
    """The payload exceeds a documented limit."""

    status = 413
    code = "too_large"


class Unavailable(DomainError):
    """A dependency (embedder, backend) is unavailable; retry later."""

    status = 503
    code = "unavailable"
