"""OpenAPI helpers: documented error responses for every operation.

:class:`ApiAutoSchema` (``DEFAULT_SCHEMA_CLASS``) adds the error responses any
operation can produce — 400, 401, 429, 404 on paths with parameters, 413/415
on bodies — to every operation of every app, so no endpoint goes
undocumented; views declare the specific ones (403, 409...) with
:func:`error_responses`.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework.permissions import AllowAny

from memoryhub.api.serializers import ErrorSerializer

ERROR_DESCRIPTIONS = {
    400: "Invalid input: malformed JSON, a wrong type, an unknown field or a bad "
    "filter. `field` names the culprit.",
    401: "No credentials, or an unknown, revoked or expired API key. Send "
    "`Authorization: Bearer <key>` (or `Token <key>`).",
    403: "The caller can see the object but may not do this to it.",
    404: "No such object, or the caller may not see it.",
    409: "Conflicts with the current state (immutable memory, version mismatch, "
    "existing slug).",
    413: "Content, batch or request body over the configured limit.",
    415: "Unsupported Content-Type.",
    429: "Rate limit of the API key exceeded; retry after `Retry-After` seconds.",
    503: "A dependency (the extraction model, the embedder, a backend) is "
    "unavailable or failed; the message names it and nothing was changed.",
}


def error_response(status: int) -> OpenApiResponse:
    """The documented JSON error response for ``status``."""
    return OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[status])


def error_responses(*statuses: int) -> dict:
    """``responses`` entries for an operation's specific error statuses."""
    return {status: error_response(status) for status in sorted(statuses)}


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's schema with the common error responses filled in."""

    def common_error_statuses(self) -> list[int]:
        """Errors this operation can return whatever its view does."""
        statuses = [400]
        if not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            statuses += [401, 429]
        if "{" in self.path:
            statuses.append(404)
        if self.method in ("POST", "PUT", "PATCH"):
            statuses += [413, 415]
        return statuses

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in self.common_error_statuses():
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(
                    error_response(status), str(status), direction=direction
                )
        return responses
