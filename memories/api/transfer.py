"""Export a space (JSON Lines, or mem0's export) and import files back
(MemoryHub's own, mem0's, OpenMemory's, the MCP memory server's).

Both are routes of the space, served by
:class:`memories.api.spaces.SpacesViewSet`, which mixes these actions in.
"""

import json

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.decorators import action
from rest_framework.exceptions import UnsupportedMediaType
from rest_framework.response import Response

from memories import services
from memories.api.serializers import (
    ExportQuerySerializer,
    ImportQuerySerializer,
    ImportResultSerializer,
)
from memories.api.viewsets import TEAM_PARAMETER
from memories.services.transfer import mem0_export_chunks
from memoryhub.api.parsers import (
    JSONLinesParser,
    JSONLParser,
    RawFileParser,
    read_limited,
)
from memoryhub.api.schema import error_responses
from memoryhub.errors import InvalidInput

TAG = "transfer"
NDJSON = "application/x-ndjson"
JSON_LINES = (NDJSON, "application/jsonl")


class TransferActions:
    """``GET .../export/`` and ``POST .../import/``, mixed into a space viewset.

    The host's ``action_perms`` must ask add_memory for ``import_lines``.
    """

    @extend_schema(
        tags=[TAG],
        summary="Export a space",
        description="JSON Lines, one memory per line with its content "
        "decrypted: active and archived, unexpired memories, oldest first. "
        "Streamed; the export is audited. `?format=mem0` writes mem0's export "
        'document instead (`{"memories": [...]}`, mem0 memory objects), '
        "which mem0's tools and MemoryHub's import read.",
        parameters=[TEAM_PARAMETER, ExportQuerySerializer],
        responses={
            (200, NDJSON): OpenApiResponse(
                OpenApiTypes.STR, description="One memory JSON object per line."
            ),
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="mem0's export (format=mem0)."
            ),
            **error_responses(400),
        },
    )
    @action(detail=True, methods=["get"])
    def export(self, request, slug):
        """``GET .../export/[?format=mem0]``."""
        query = self.query(ExportQuerySerializer)
        shape = query.get("format") or "memoryhub"
        rows = services.memories_export(actor=self.actor, space=self.space, shape=shape)
        if shape == "mem0":
            response = StreamingHttpResponse(
                mem0_export_chunks(self.space, rows), content_type="application/json"
            )
            name = f"{self.space.slug}-mem0.json"
        else:
            lines = (json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
            response = StreamingHttpResponse(lines, content_type=NDJSON)
            name = f"{self.space.slug}.jsonl"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @extend_schema(
        tags=[TAG],
        summary="Import into a space",
        description="Send JSON Lines (Content-Type application/x-ndjson or "
        "application/jsonl) in the export format; `id`, `state`, `version` and "
        "timestamps are ignored. Each line gets a result; bad lines are "
        "reported with their number and do not stop the good ones. Identical "
        "memories deduplicate. With `?format=` (`auto`, `memoryhub`, `mem0`, "
        "`openmemory`, `mcp`) the body is another system's file — a mem0 "
        "export, an OpenMemory zip, the MCP memory server's JSONL "
        "(docs/migrations.md) — and each result's `line` names its place in "
        "the file; a file that is not its format is a 400 and stores nothing.",
        parameters=[TEAM_PARAMETER, ImportQuerySerializer],
        request={
            NDJSON: OpenApiTypes.STR,
            "application/jsonl": OpenApiTypes.STR,
            "application/json": OpenApiTypes.OBJECT,
            "application/zip": OpenApiTypes.BINARY,
            "application/octet-stream": OpenApiTypes.BINARY,
        },
        responses={
            200: ImportResultSerializer,
            **error_responses(403),
        },
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="import",
        url_name="import",
        parser_classes=[JSONLinesParser, JSONLParser, RawFileParser],
        serializer_class=ImportResultSerializer,
    )
    def import_lines(self, request, slug):
        """``POST .../import/[?format=...]``."""
        fmt = self.query(ImportQuerySerializer).get("format")
        media_type = request.content_type.split(";")[0].strip()
        if fmt is None:
            if media_type not in JSON_LINES:
                raise UnsupportedMediaType(
                    media_type,
                    detail=f"unsupported media type {media_type!r}: send JSON "
                    "Lines (application/x-ndjson), or name the file's format "
                    "with ?format=auto|mem0|openmemory|mcp|memoryhub",
                )
            result = services.memories_import(
                actor=self.actor, space=self.space, lines=request.data
            )
        else:
            body = read_limited(request.stream, {"request": request})
            if not body.strip():
                raise InvalidInput(
                    "the request body is empty; send the file", field="file"
                )
            result = services.memories_import_file(
                actor=self.actor, space=self.space, data=body, format=fmt or "auto"
            )
        return Response(ImportResultSerializer(result).data)
