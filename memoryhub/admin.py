"""Admin plumbing every app's console shares (it registers no model)."""

import uuid

from django import forms
from django.contrib import admin
from django.utils.text import slugify


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows that are written by services only: view, never add/change/delete."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class SlugForm(forms.ModelForm):
    """A model form whose ``slug`` must already be a slug (as services require)."""

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        if slugify(slug) != slug:
            raise forms.ValidationError(
                "Use lowercase letters, digits and hyphens only."
            )
        return slug


def uuid_or_none(term: str) -> uuid.UUID | None:
    """``term`` as a UUID (a search box's memory id), or None."""
    try:
        return uuid.UUID(term.strip())
    except ValueError:
        return None
