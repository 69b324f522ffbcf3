"""Admin console for the access audit: browse and filter, never change."""

from django.contrib import admin

from accounts.admin import ReadOnlyAdmin
from audit.models import AccessEvent
from memoryhub.admin import uuid_or_none


@admin.register(AccessEvent)
class AccessEventAdmin(ReadOnlyAdmin):
    """The append-only access audit: browse and filter, never change."""

    list_display = [
        "at",
        "actor",
        "action",
        "surface",
        "space_slug",
        "count",
        "backend",
    ]
    list_filter = ["action", "surface", "backend", "at"]
    search_fields = ["actor", "action", "space_slug"]
    search_help_text = "An actor (user:…, key:…), action, space slug or memory id."
    date_hierarchy = "at"

    def get_search_results(self, request, queryset, search_term):
        found, may_have_duplicates = super().get_search_results(
            request, queryset, search_term
        )
        memory_id = uuid_or_none(search_term)
        if memory_id is not None:
            found = found | queryset.filter(memory_ids__contains=[memory_id])
        return found, may_have_duplicates
