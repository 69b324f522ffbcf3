"""Request body parsers that enforce the body size limit and clean strings.

DRF's own ``JSONParser`` reads the stream directly, so Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE`` never applies to it; these parsers check the
limit themselves and answer 413. JSON strings that PostgreSQL cannot store
(NUL characters, unpaired surrogates) are rejected here with the path of the
offending value, so they can never reach the database as a 500.
"""

import codecs

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, get_encoding

from memoryhub.errors import TooLarge
from memoryhub.safejson import check_strings, loads_strict


def read_limited(stream, parser_context) -> bytes:
    """The whole body, or ``TooLarge`` beyond ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    message = (
        f"the request body is larger than {limit} bytes "
        "(MEMORYHUB_MAX_REQUEST_BYTES); split it into smaller requests"
    )
    request = (parser_context or {}).get("request")
    if request is not None:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise TooLarge(message)
    if stream is None:
        return b""
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise TooLarge(message)
    return body


class JSONParser(BaseParser):
    """``application/json`` with the size limit, strict numbers and string checks."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        """Parse the body as one JSON document."""
        body = read_limited(stream, parser_context)
        encoding = get_encoding(parser_context or {})
        try:
            text = codecs.decode(body, encoding)
        except UnicodeDecodeError:
            raise ParseError(f"the request body is not valid {encoding}") from None
        try:
            data = loads_strict(text)
        except ValueError as exc:
            raise ParseError(
                f"malformed JSON: {exc}; send one JSON document with "
                "Content-Type: application/json"
            ) from None
        check_strings(data)
        return data


class JSONLinesParser(BaseParser):
    """``application/x-ndjson``: the raw lines (``bytes``), parsed one by one later.

    Lines are parsed by the import service, which reports every bad line with
    its number instead of rejecting the whole body.
    """

    media_type = "application/x-ndjson"

    def parse(self, stream, media_type=None, parser_context=None):
        """Split the body into lines; blank lines are kept to preserve numbering."""
        return read_limited(stream, parser_context).split(b"\n")


class JSONLParser(JSONLinesParser):
    """``application/jsonl``: the same format under its other media type."""

    media_type = "application/jsonl"


class RawFileParser(BaseParser):
    """A file as bytes (zip archives, JSON documents of other systems), with
    the size limit; the import reads it through :func:`read_limited`."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        """The body's bytes."""
        return read_limited(stream, parser_context)
