"""Serializers of the team and API key endpoints."""

from rest_framework import serializers

from memoryhub.api.serializers import (
    StrictBooleanField,
    StrictCharField,
    StrictSerializer,
)


class TeamSerializer(serializers.Serializer):
    """A team the caller belongs to, with the caller's role."""

    slug = serializers.CharField()
    name = serializers.CharField()
    role = serializers.CharField(
        allow_null=True, help_text="The caller's role; null for API keys."
    )


class ApiKeySerializer(serializers.Serializer):
    """An API key without its secret (the secret is never stored)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="Identifies the key: mh_<prefix>_...")
    read_only = serializers.BooleanField()
    spaces = serializers.SerializerMethodField(
        help_text="Slugs of the spaces the key is limited to (empty = all)."
    )
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)
    created_by = serializers.CharField(
        source="created_by.username", allow_null=True, default=None
    )
    created_at = serializers.DateTimeField()

    def get_spaces(self, api_key) -> list[str]:
        """Slugs of the key's spaces (prefetched by the selector)."""
        return sorted(space.slug for space in api_key.spaces.all())


class ApiKeyCreatedSerializer(ApiKeySerializer):
    """A new key, with its secret: shown once, in this response only."""

    secret = serializers.CharField(
        help_text="The full key. Store it now: it cannot be shown again."
    )


class ApiKeyCreateSerializer(StrictSerializer):
    """Body of ``POST /teams/<slug>/keys/``."""

    name = StrictCharField(max_length=100, min_length=1)
    read_only = StrictBooleanField(required=False, default=False)
    spaces = serializers.ListField(
        child=StrictCharField(max_length=64),
        required=False,
        default=list,
        help_text="Limit the key to these space slugs of the team (empty = all).",
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
