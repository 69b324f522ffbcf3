"""Export a space as JSON Lines and import the same format back.

Both are routes of the space, served by
:class:`memories.api.spaces.SpacesViewSet`, which mixes these actions in.
"""

import json

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from memories import services
from memories.api.serializers import ImportResultSerializer
from memories.api.viewsets import TEAM_PARAMETER
from memoryhub.api.parsers import JSONLinesParser, JSONLParser
from memoryhub.api.schema import error_responses

TAG = "transfer"
NDJSON = "application/x-ndjson"


class TransferActions:
    """``GET .../export/`` and ``POST .../import/``, mixed into a space viewset.

    The host's ``action_perms`` must ask add_memory for ``import_lines``.
    """

    @extend_schema(
        tags=[TAG],
        summary="Export a space",
        description="JSON Lines, one memory per line with its content "
        "decrypted: active and archived, unexpired memories, oldest first. "
        "Streamed; the export is audited.",
        parameters=[TEAM_PARAMETER],
        responses={
            (200, NDJSON): OpenApiResponse(
                OpenApiTypes.STR, description="One memory JSON object per line."
            ),
        },
    )
    @action(detail=True, methods=["get"])
    def export(self, request, slug):
        """``GET .../export/``."""
        self.query()
        rows = services.memories_export(actor=self.actor, space=self.space)
        lines = (json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        response = StreamingHttpResponse(lines, content_type=NDJSON)
        response["Content-Disposition"] = (
            f'attachment; filename="{self.space.slug}.jsonl"'
        )
        return response

    @extend_schema(
        tags=[TAG],
        summary="Import into a space",
        description="Send JSON Lines (Content-Type application/x-ndjson or "
        "application/jsonl) in the export format; `id`, `state`, `version` and "
        "timestamps are ignored. Each line gets a result; bad lines are "
        "reported with their number and do not stop the good ones. Identical "
        "memories deduplicate.",
        parameters=[TEAM_PARAMETER],
        request={NDJSON: OpenApiTypes.STR, "application/jsonl": OpenApiTypes.STR},
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
        parser_classes=[JSONLinesParser, JSONLParser],
        serializer_class=ImportResultSerializer,
    )
    def import_lines(self, request, slug):
        """``POST .../import/``."""
        self.query()
        result = services.memories_import(
            actor=self.actor, space=self.space, lines=request.data
        )
        return Response(ImportResultSerializer(result).data)
