"""The one DRF exception handler: every API error becomes the same JSON shape.

Body: ``{"detail": "...", "code": "...", "field"?: "...", "errors"?: {...}}``.
``detail`` is kept because mem0 clients read it; it is one sentence a person
can act on. ``errors`` carries DRF's full per-field messages when a serializer
rejected several fields. No stack traces and no request content ever appear.

Domain errors (:mod:`memoryhub.errors`) map through their ``status`` and
``code``; Django's ``ValidationError`` (raised by account services) is a 400;
anything unexpected is logged and answered with a JSON 500 that says nothing
about the cause.
"""

import logging
import math
import sys

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from memoryhub import outage
from memoryhub.errors import DomainError

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"


def error_body(detail: str, code: str, field: str | None = None) -> dict:
    """The JSON error body every API error uses."""
    body = {"detail": detail, "code": code}
    if field:
        body["field"] = field
    return body


def first_error(errors, path: str = "") -> tuple[str, str | None, str]:
    """The first (message, field path, code) in nested DRF serializer errors."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            if isinstance(key, int):  # ListField / many=True errors by index
                return first_error(value, f"{path}[{key}]")
            name = "" if key == "non_field_errors" else str(key)
            sub = f"{path}.{name}" if path and name else (name or path)
            return first_error(value, sub)
    if isinstance(errors, list):
        for index, value in enumerate(errors):
            if isinstance(value, dict | list):
                return first_error(value, f"{path}[{index}]" if path else "")
            return first_error(value, path)
    return str(errors), path or None, getattr(errors, "code", None) or "invalid"


def _validation_response(exc: exceptions.ValidationError, headers) -> Response:
    message, field, code = first_error(exc.detail)
    detail = f"{field}: {message}" if field else message
    body = error_body(detail, code, field)
    if isinstance(exc.detail, dict):
        body["errors"] = exc.detail
    return Response(body, status=status.HTTP_400_BAD_REQUEST, headers=headers)


def exception_handler(exc, context):
    """DRF ``EXCEPTION_HANDLER``: map any exception to a JSON error response."""
    set_rollback()
    if isinstance(exc, DomainError):
        return Response(error_body(exc.message, exc.code, exc.field), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        return Response(
            error_body(" ".join(exc.messages), "invalid"),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body(str(exc), "too_large"),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.APIException):
        headers = {}
        if getattr(exc, "auth_header", None):  # set by APIView on 401
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):  # Throttled: seconds until allowed
            headers["Retry-After"] = str(math.ceil(exc.wait))
        if isinstance(exc, exceptions.ValidationError):
            return _validation_response(exc, headers)
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else "error"
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return Response(
            error_body(str(detail), code), status=exc.status_code, headers=headers
        )
    view = context.get("view")
    if outage.is_database_outage(exc):
        outage.note(exc, type(view).__name__ if view else "API view")
        return Response(
            error_body(outage.MESSAGE, outage.CODE),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(outage.RETRY_AFTER_SECONDS)},
        )
    logger.exception(
        "unhandled error in %s", type(view).__name__ if view else "API view"
    )
    return Response(
        error_body(
            "Internal server error; the failure was logged. Retry, and report it "
            "if it persists.",
            "server_error",
        ),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def _is_api(request) -> bool:
    return request.path.startswith(JSON_PREFIXES)


# The native API and the mem0-compatible paths answer errors in JSON, so a
# mem0 client hitting an endpoint we do not serve gets {"detail": ...}.
JSON_PREFIXES = (API_PREFIX, "/v1/", "/v2/", "/v3/")


def not_found(request, exception=None):
    """``handler404``: JSON under ``/api/`` (unknown URL, malformed UUID)."""
    if _is_api(request):
        return JsonResponse(
            error_body(
                f"no API endpoint or object at {request.path}; check the URL "
                "(ids are UUIDs, see /api/docs/)",
                "not_found",
            ),
            status=404,
        )
    return defaults.page_not_found(request, exception)


def server_error(request):
    """``handler500``: JSON under ``/api/``, Django's page elsewhere; a
    database outage met outside a view (a session saved on the way out) is
    the outage's 503."""
    if outage.is_database_outage(sys.exc_info()[1]):
        return outage.outage_response(request)
    if _is_api(request):
        return JsonResponse(
            error_body(
                "Internal server error; the failure was logged.", "server_error"
            ),
            status=500,
        )
    return defaults.server_error(request)


def bad_request(request, exception=None):
    """``handler400``: JSON under ``/api/`` (e.g. a disallowed host, bad body)."""
    if _is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return JsonResponse(error_body(str(exception), "too_large"), status=413)
        return JsonResponse(error_body("Bad request.", "bad_request"), status=400)
    return defaults.bad_request(request, exception)
