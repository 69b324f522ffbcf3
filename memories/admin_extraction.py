"""Admin console for extraction: the teams' models, the spaces' settings and
the extraction events (read-only; never content).

A team's model overrides ``MEMORYHUB_LLM_*`` for that team; its API key is
sealed with the master key, written here and never shown again.
"""

from django import forms
from django.contrib import admin, messages

from accounts.actors import actor_for_user
from memories import services
from memories.extraction import llm
from memories.models import ExtractionEvent, ExtractionSettings, TeamModel
from memories.services.extraction_settings import (
    clean_instructions,
    clean_space_categories,
)
from memoryhub.admin import ReadOnlyAdmin, uuid_or_none
from memoryhub.errors import DomainError


class TeamModelForm(forms.ModelForm):
    """The model's settings, and its API key (write-only)."""

    url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        help_text="OpenAI-compatible API base, e.g. http://127.0.0.1:11434/v1",
    )
    api_key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="Sealed with the master key and never shown. Leave empty to "
        "keep the current key.",
    )
    remove_api_key = forms.BooleanField(
        required=False, help_text="Forget the stored key (servers without auth)."
    )

    class Meta:
        model = TeamModel
        fields = [
            "team",
            "url",
            "model",
            "temperature",
            "timeout_seconds",
            "max_tokens",
            "allows_content",
            "enabled",
        ]

    def clean_url(self):
        url = self.cleaned_data["url"]
        if not url.startswith(("http://", "https://")):
            raise forms.ValidationError("Use an http(s) URL, e.g. https://…/v1")
        return url


@admin.register(TeamModel)
class TeamModelAdmin(admin.ModelAdmin):
    """Which OpenAI-compatible model a team extracts with."""

    form = TeamModelForm
    list_display = [
        "team",
        "model",
        "url",
        "allows_content",
        "enabled",
        "has_api_key",
        "updated_at",
    ]
    list_filter = ["enabled", "allows_content"]
    search_fields = ["team__slug", "model"]
    list_select_related = ["team"]

    @admin.display(boolean=True, description="API key")
    def has_api_key(self, obj: TeamModel) -> bool:
        return bool(obj.api_key_sealed)

    def save_model(self, request, obj: TeamModel, form, change: bool) -> None:
        if form.cleaned_data.get("remove_api_key"):
            llm.team_model_set_key(obj, "")
        elif form.cleaned_data.get("api_key"):
            llm.team_model_set_key(obj, form.cleaned_data["api_key"])
        super().save_model(request, obj, form, change)


class ExtractionSettingsForm(forms.ModelForm):
    """Checked by the same cleaners as the API."""

    class Meta:
        model = ExtractionSettings
        fields = [
            "space",
            "infer_by_default",
            "instructions",
            "categories",
            "max_memories_per_subject",
        ]
        help_texts = {
            "categories": 'A JSON list: [{"name": "travel", "description": '
            '"trips and places"}]',
        }

    def clean_categories(self):
        try:
            return clean_space_categories(self.cleaned_data["categories"])
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_instructions(self):
        try:
            return clean_instructions(self.cleaned_data["instructions"])
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from None


@admin.register(ExtractionSettings)
class ExtractionSettingsAdmin(admin.ModelAdmin):
    """A space's extraction settings, saved through the service (audited)."""

    form = ExtractionSettingsForm
    list_display = ["space", "infer_by_default", "max_memories_per_subject"]
    list_select_related = ["space__team"]
    search_fields = ["space__slug", "space__team__slug"]

    def get_readonly_fields(self, request, obj=None):
        return ["space"] if obj is not None else []

    def save_model(self, request, obj, form, change: bool) -> None:
        values = {
            name: form.cleaned_data[name]
            for name in (
                "infer_by_default",
                "instructions",
                "categories",
                "max_memories_per_subject",
            )
        }
        try:
            services.extraction_settings_update(
                actor=actor_for_user(request.user),
                space=obj.space,
                surface="admin",
                **values,
            )
        except DomainError as exc:
            messages.error(request, exc.message)


@admin.register(ExtractionEvent)
class ExtractionEventAdmin(ReadOnlyAdmin):
    """Extraction requests: who, when, which model, how it went — no content."""

    list_display = [
        "id",
        "space",
        "state",
        "surface",
        "actor",
        "message_count",
        "model",
        "model_calls",
        "model_time",
        "created_at",
    ]
    list_filter = ["state", "surface", "created_at"]
    list_select_related = ["space__team"]
    exclude = ["payload"]
    search_fields = ["actor", "model", "space__slug"]

    @admin.display(description="model time", ordering="model_ms")
    def model_time(self, obj: ExtractionEvent) -> str:
        return f"{obj.model_ms / 1000:.2f} s"

    def get_search_results(self, request, queryset, search_term):
        found = uuid_or_none(search_term.strip())
        if found is not None:
            return queryset.filter(pk=found), False
        return super().get_search_results(request, queryset, search_term)
