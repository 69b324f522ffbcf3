"""The team app's forms: they turn fields into the arguments of the services
and selectors (the filter language of :mod:`memories.filters`); validation of
the values themselves stays in the services."""

import json
import uuid
from datetime import datetime, time

from django import forms
from django.conf import settings
from django.utils import timezone

from memories.filters import STATES
from memories.selectors import SEARCH_MODES
from memories.validation import SCOPE_FIELDS
from memoryhub.errors import DomainError

STATE_CHOICES = [(state, state.capitalize()) for state in STATES] + [("all", "All")]


def _scope_field(name: str) -> forms.CharField:
    return forms.CharField(
        label=name.replace("_", " ").capitalize().replace(" id", " ID"),
        required=False,
        max_length=255,
    )


def _date_field(label: str, **options) -> forms.DateField:
    """An optional date with the browser's date picker."""
    return forms.DateField(
        label=label,
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        **options,
    )


def _json_scalar(text: str):
    """``5``, ``2.5``, ``true``, ``false``, ``null`` or ``"quoted"`` as JSON,
    anything else as the text itself (metadata compares by JSON type)."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if not isinstance(value, (dict, list)) else text


def domain_error_to_form(form: forms.Form, exc: DomainError) -> None:
    """Show a service's refusal next to the field it names (or on the form)."""
    field = (exc.field or "").split(".")[0].split("[")[0]
    form.add_error(field if field in form.fields else None, exc.message)


SORTS = {
    "newest": ("Newest first", {"field": "created_at", "descending": True}),
    "oldest": ("Oldest first", {"field": "created_at", "descending": False}),
    "updated": ("Recently changed", {"field": "updated_at", "descending": True}),
}


class MemoryFilterForm(forms.Form):
    """The memory browser's filters, mapped onto the mem0-style filter language."""

    user_id = _scope_field("user_id")
    agent_id = _scope_field("agent_id")
    app_id = _scope_field("app_id")
    run_id = _scope_field("run_id")
    state = forms.ChoiceField(choices=STATE_CHOICES, required=False, initial="active")
    category = forms.CharField(required=False, max_length=100)
    created_from = _date_field("Created from")
    created_to = _date_field(
        "Created until", help_text="Inclusive: the whole day counts."
    )
    updated_from = _date_field("Changed from")
    updated_to = _date_field("Changed until")
    metadata = forms.CharField(
        label="Metadata",
        required=False,
        max_length=1000,
        help_text='key=value; numbers and true/false match JSON values, "quoted" '
        "text matches a string.",
    )
    sort = forms.ChoiceField(
        choices=[(key, label) for key, (label, _) in SORTS.items()],
        required=False,
        initial="newest",
        help_text="Search results are ordered by score.",
    )

    def clean_metadata(self):
        text = self.cleaned_data["metadata"].strip()
        if not text:
            return None
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise forms.ValidationError("Write the condition as key=value.")
        return key.strip(), _json_scalar(value.strip())

    def filters(self) -> dict:
        """The filter object for ``memories.selectors.memories_list``."""
        data = self.cleaned_data
        filters: dict = {name: data[name] for name in SCOPE_FIELDS if data.get(name)}
        if data.get("category"):
            filters["categories"] = {"contains": data["category"]}
        for prefix in ("created", "updated"):
            bounds = {
                op: data[f"{prefix}_{end}"].isoformat()
                for op, end in (("gte", "from"), ("lte", "to"))
                if data.get(f"{prefix}_{end}")
            }
            if bounds:
                filters[f"{prefix}_at"] = bounds
        if data.get("metadata"):
            key, value = data["metadata"]
            filters["metadata"] = {key: value}
        return filters

    def sort_choice(self) -> tuple[str, dict]:
        """The chosen sort: its label and its ``cursor_page`` arguments."""
        return SORTS[self.cleaned_data.get("sort") or "newest"]

    def states(self) -> tuple[str, ...]:
        """The memory states to list (active unless chosen)."""
        state = self.cleaned_data.get("state") or "active"
        return tuple(STATES) if state == "all" else (state,)


class SearchForm(forms.Form):
    """The search box: ``memories.selectors.memory_search`` arguments."""

    q = forms.CharField(
        label="Search",
        required=False,
        max_length=settings.MEMORY_MAX_CONTENT_CHARS,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    mode = forms.ChoiceField(
        choices=[(mode, mode.capitalize()) for mode in SEARCH_MODES],
        required=False,
        initial="hybrid",
    )
    top_k = forms.IntegerField(
        label="Top k",
        required=False,
        min_value=1,
        max_value=settings.SEARCH_MAX_TOP_K,
        initial=10,
    )
    threshold = forms.FloatField(label="Minimum score", required=False)

    def search_arguments(self) -> dict | None:
        """Keyword arguments for ``memory_search``, or None without a query."""
        data = self.cleaned_data
        if not (data.get("q") or "").strip():
            return None
        return {
            "query": data["q"],
            "mode": data.get("mode") or "hybrid",
            "top_k": data.get("top_k") or 10,
            "threshold": data.get("threshold"),
        }


class ContentField(forms.CharField):
    """Memory text as typed: browsers send a textarea's line breaks as CRLF,
    which would otherwise turn every edit into a change of content."""

    def to_python(self, value):
        value = super().to_python(value)
        return value.replace("\r\n", "\n") if value else value


class _MemoryFields(forms.Form):
    """Fields an added or edited memory shares."""

    content = ContentField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=settings.MEMORY_MAX_CONTENT_CHARS,
        strip=False,
    )
    categories = forms.CharField(
        required=False, help_text="Comma-separated, e.g. travel, food."
    )
    metadata = forms.JSONField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='A JSON object, e.g. {"priority": 5}.',
    )
    expires_at = forms.DateTimeField(
        label="Expires at (UTC)",
        required=False,
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
        ),
    )

    def clean_categories(self) -> list[str]:
        text = self.cleaned_data["categories"]
        return [item.strip() for item in text.split(",") if item.strip()]


class MemoryAddForm(_MemoryFields):
    """A new memory (``memories.services.memory_add``)."""

    user_id = _scope_field("user_id")
    agent_id = _scope_field("agent_id")
    app_id = _scope_field("app_id")
    run_id = _scope_field("run_id")
    immutable = forms.BooleanField(
        required=False, help_text="An immutable memory can never be edited."
    )

    field_order = ["content", *SCOPE_FIELDS, "categories", "metadata"]

    def memory_data(self) -> dict:
        """The ``data`` of ``memory_add``."""
        data = dict(self.cleaned_data)
        data["metadata"] = data.get("metadata") or {}
        return data


class MemoryEditForm(_MemoryFields):
    """A change to a memory (``memories.services.memory_update``), made
    against the version the person saw."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    @staticmethod
    def initial_for(memory) -> dict:
        """The form's values for ``memory`` (decrypted by its selector)."""
        expires_at = memory.expires_at
        return {
            "content": memory.plaintext,
            "categories": ", ".join(memory.categories),
            "metadata": memory.metadata,
            # The widget shows minutes: compare like with like.
            "expires_at": expires_at.replace(second=0, microsecond=0)
            if expires_at
            else None,
            "version": memory.version,
        }

    def changes(self) -> dict:
        """``memory_update`` keyword arguments for the fields that changed."""
        return {
            name: self.cleaned_data[name]
            for name in self.changed_data
            if name != "version"
        }


# --- sharing ----------------------------------------------------------------------

PRINCIPAL_CHOICES = [("user", "A person (username)"), ("team", "A team (slug)")]
LEVELS = {
    "read": ["view_space"],
    "write": ["view_space", "add_memory", "change_memory", "delete_memory"],
    "manage": [
        "view_space",
        "add_memory",
        "change_memory",
        "delete_memory",
        "manage_space",
    ],
}
LEVEL_CHOICES = [
    ("read", "Read: see and search memories"),
    ("write", "Write: also add, change and delete memories"),
    ("manage", "Manage: also share the space"),
]


class RevokeForm(forms.Form):
    """Whose grant: a kind (user / team) and a name."""

    kind = forms.ChoiceField(label="Share with", choices=PRINCIPAL_CHOICES)
    name = forms.CharField(
        label="Username or team slug",
        max_length=150,
        help_text="The exact username of a person, or the slug of a team.",
    )

    def principal(self) -> dict:
        return {self.cleaned_data["kind"]: self.cleaned_data["name"].strip()}


class GrantForm(RevokeForm):
    """A grant: whom, and one of three permission levels."""

    level = forms.ChoiceField(label="Permission", choices=LEVEL_CHOICES, initial="read")

    def grant(self) -> dict:
        return {**self.principal(), "perms": LEVELS[self.cleaned_data["level"]]}


# --- erasure ------------------------------------------------------------------------

ENTITY_KINDS = ("user", "agent", "app", "run")


class EraseEntityForm(forms.Form):
    """Erase everything of one id: the person types the id again to confirm."""

    kind = forms.ChoiceField(
        choices=[(k, k) for k in ENTITY_KINDS], widget=forms.HiddenInput
    )
    name = forms.CharField(max_length=255, widget=forms.HiddenInput)
    confirm = forms.CharField(
        label="Type the id to confirm",
        max_length=255,
        required=False,
        help_text="Erasure is permanent: the memories and their history are removed.",
    )

    def clean(self):
        data = super().clean()
        if "name" in data and data.get("confirm", "").strip() != data["name"]:
            self.add_error(
                "confirm", "This is not the id shown above; nothing was erased."
            )
        return data

    def filters(self) -> dict:
        return {f"{self.cleaned_data['kind']}_id": self.cleaned_data["name"]}


# --- API keys -------------------------------------------------------------------


class ApiKeyCreateForm(forms.Form):
    """A new key: name, the spaces it may reach (none: all), read-only, expiry."""

    name = forms.CharField(max_length=100, help_text="What uses it, e.g. support-bot.")
    spaces = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked for every space of the team.",
    )
    read_only = forms.BooleanField(
        label="Read only (search and read, no writes)", required=False
    )
    expires_on = _date_field(
        "Expires on", help_text="Leave empty for a key that does not expire."
    )

    def __init__(self, *args, space_slugs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["spaces"].choices = [(slug, slug) for slug in space_slugs]

    def expires_at(self):
        day = self.cleaned_data.get("expires_on")
        if day is None:
            return None
        return timezone.make_aware(datetime.combine(day, time.max))


# --- activity -------------------------------------------------------------------

SURFACE_CHOICES = [("", "Any")] + [
    (s, s) for s in ("api", "mem0", "mcp", "ui", "admin", "cli", "sync")
]


class ActivityFilterForm(forms.Form):
    """The activity log's filters and the charts' window."""

    actor = forms.CharField(
        required=False, max_length=200, help_text='e.g. "key:1a2b3c4d" or "user:3:ada".'
    )
    action = forms.CharField(
        required=False, max_length=32, help_text='e.g. "memory.search".'
    )
    surface = forms.ChoiceField(choices=SURFACE_CHOICES, required=False)
    space = forms.SlugField(required=False, max_length=64)
    memory_id = forms.UUIDField(label="Memory ID", required=False)
    since = _date_field("From")
    until = _date_field("Until", help_text="Inclusive.")
    days = forms.TypedChoiceField(
        label="Charts over",
        coerce=int,
        choices=[(7, "7 days"), (30, "30 days"), (90, "90 days")],
        required=False,
        empty_value=30,
    )

    def filters(self) -> dict:
        data = dict(self.cleaned_data)
        data.pop("days", None)
        for key, end in (("since", time.min), ("until", time.max)):
            if data.get(key):
                data[key] = timezone.make_aware(datetime.combine(data[key], end))
        return {key: value for key, value in data.items() if value not in (None, "")}


# --- import ---------------------------------------------------------------------


class ImportForm(forms.Form):
    file = forms.FileField(
        label="File",
        help_text="MemoryHub's export (JSON Lines), a mem0 export (JSON), an "
        "OpenMemory backup (zip) or the MCP memory server's memory file (JSONL).",
        widget=forms.ClearableFileInput(
            attrs={"accept": ".jsonl,.ndjson,.json,.txt,.zip"}
        ),
    )
    format = forms.ChoiceField(
        label="Format",
        choices=[
            ("auto", "Recognise it"),
            ("memoryhub", "MemoryHub JSON Lines"),
            ("mem0", "mem0 export"),
            ("openmemory", "OpenMemory backup (zip)"),
            ("mcp", "MCP memory server file (knowledge graph)"),
        ],
        initial="auto",
        required=False,
    )

    def clean_format(self) -> str:
        """Left out: recognise it."""
        return self.cleaned_data.get("format") or "auto"


# --- bulk actions -----------------------------------------------------------------

BULK_MAX = 100


class BulkForm(forms.Form):
    """Selected memories of the browser and what to do with them."""

    action = forms.ChoiceField(
        choices=[("archive", "Archive"), ("delete", "Delete"), ("erase", "Erase")]
    )
    ids = forms.Field(
        widget=forms.MultipleHiddenInput,
        error_messages={"required": "Select memories first."},
    )
    confirm = forms.CharField(required=False, max_length=20)

    def clean_ids(self) -> list[str]:
        ids = list(dict.fromkeys(self.cleaned_data["ids"]))
        if len(ids) > BULK_MAX:
            raise forms.ValidationError(
                f"Select at most {BULK_MAX} memories at a time."
            )
        try:
            return [str(uuid.UUID(value)) for value in ids]
        except ValueError:
            raise forms.ValidationError("A selected memory id is not valid.") from None


# --- team ----------------------------------------------------------------------------

ROLE_CHOICES = [
    ("viewer", "Viewer: reads and searches"),
    ("member", "Member: also adds, changes and deletes memories"),
    ("admin", "Admin: also manages spaces, keys and members"),
    ("owner", "Owner: everything, including owners"),
]


class RoleForm(forms.Form):
    user = forms.IntegerField(widget=forms.HiddenInput)
    role = forms.ChoiceField(choices=ROLE_CHOICES)


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=ROLE_CHOICES, initial="member")


class AcceptForm(forms.Form):
    """A new account from an invitation: username and password (twice)."""

    username = forms.RegexField(
        regex=r"^[\w.@+-]+\Z",
        max_length=150,
        help_text="Letters, digits and @ . + - _ only.",
        error_messages={"invalid": "Use letters, digits and @ . + - _ only."},
    )
    password1 = forms.CharField(
        label="Password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label="Password again",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return data


# --- spaces ---------------------------------------------------------------------------


class SpaceCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="Shown in lists, e.g. Support agent."
    )
    slug = forms.SlugField(
        max_length=64,
        help_text="In URLs and API calls, e.g. support-agent: lowercase letters, "
        "digits and hyphens.",
    )
    description = forms.CharField(
        required=False, max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )
    retention_days = forms.IntegerField(
        label="Keep memories for (days)",
        required=False,
        min_value=1,
        help_text="Leave empty to keep them until deleted.",
    )


# --- webhooks -----------------------------------------------------------------


class WebhookForm(forms.Form):
    """A new webhook: where, which events, and whether the text goes along."""

    name = forms.CharField(max_length=100, help_text="What listens, e.g. crm-sync.")
    url = forms.CharField(
        label="URL",
        max_length=2000,
        help_text="An http(s) address on the public internet; MemoryHub POSTs "
        "signed JSON to it.",
        widget=forms.URLInput(),
    )
    events = forms.MultipleChoiceField(
        choices=[
            ("memory.add", "memory.add"),
            ("memory.update", "memory.update"),
            ("memory.delete", "memory.delete"),
        ],
        initial=["memory.add", "memory.update", "memory.delete"],
        widget=forms.CheckboxSelectMultiple,
    )
    include_content = forms.BooleanField(
        label="Send each memory's text (off: ids only)", required=False
    )


_SPEAKERS = {"user": "user", "me": "user", "assistant": "assistant", "ai": "assistant"}


class ExtractForm(forms.Form):
    """A conversation to extract memories from, and whose memories they are.

    Each line is a message; a line starting ``Assistant:`` is the assistant's,
    any other (``User:`` optional) the person's.
    """

    conversation = ContentField(
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="One message per line; start a line with “Assistant:” for "
        "the assistant's replies.",
    )
    user_id = _scope_field("user_id")
    agent_id = _scope_field("agent_id")

    def messages(self) -> list[dict]:
        """The conversation as chat messages."""
        found = []
        for line in self.cleaned_data["conversation"].splitlines():
            speaker, colon, rest = line.partition(":")
            role = _SPEAKERS.get(speaker.strip().lower()) if colon else None
            text = (rest if role else line).strip()
            if text:
                found.append({"role": role or "user", "content": text})
        return found


class ExtractionSettingsForm(forms.Form):
    """A space's extraction settings; categories one per line, ``name: what``."""

    infer_by_default = forms.BooleanField(
        label="Extract by default (mem0 clients that leave infer out)",
        required=False,
    )
    instructions = ContentField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What the model should keep, and what it must never keep.",
    )
    categories = ContentField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line: “name: what belongs there”. Extracted memories "
        "are filed under those that fit.",
    )
    max_memories_per_subject = forms.IntegerField(
        label="Keep at most this many memories per subject",
        required=False,
        min_value=1,
        max_value=1_000_000,
        help_text="Beyond it, the oldest are archived after an extraction. "
        "Empty: no limit.",
    )

    @staticmethod
    def initial_for(current) -> dict:
        return {
            "infer_by_default": current.infer_by_default,
            "instructions": current.instructions,
            "categories": "\n".join(
                f"{c['name']}: {c['description']}".rstrip(": ")
                for c in current.categories
            ),
            "max_memories_per_subject": current.max_memories_per_subject,
        }

    def values(self) -> dict:
        """Keyword arguments of ``extraction_settings_update``."""
        data = dict(self.cleaned_data)
        categories = []
        for line in data.pop("categories").splitlines():
            name, _, description = line.partition(":")
            if name.strip():
                categories.append(
                    {"name": name.strip(), "description": description.strip()}
                )
        return {**data, "categories": categories}
