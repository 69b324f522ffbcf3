"""Admin console for routing: backends, rules, the outbox, external ids, sync
jobs and webhooks.

Secrets are write-only: the backend form takes new ones as JSON (merged into
the stored ones, or replacing them) and shows only the names of those set,
never a value — not even back in a form that failed validation. Writes go
through ``routing.services`` so validation, sealing and cache invalidation
apply (problems show next to the fields); dead letters are retryable with an
action; the explain tool is an action on rules that shows, per operation,
which rule matches and which backends serve.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery

from accounts.actors import SYSTEM, actor_for_user
from memoryhub.errors import DomainError
from routing import rules, selectors, services, webhooks
from routing.models import (
    Backend,
    ExternalRef,
    OutboxEntry,
    OutboxState,
    RoutingRule,
    SyncJob,
    SyncRun,
    SyncTrigger,
    Webhook,
    WebhookDelivery,
)
from routing.sync import selectors as sync_selectors
from routing.sync import services as sync_services

MAX_SECRETS_CHARS = 20_000


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the services maintain: listed and shown, never added or edited
    here (actions, such as retry, still act through the services)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class LatestInline(admin.TabularInline):
    """The parent's ``shown`` latest rows, read-only."""

    shown = 20
    extra = 0
    max_num = 0
    can_delete = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        latest = queryset.order_by("-pk").values_list("pk", flat=True)[: self.shown]
        return queryset.filter(pk__in=list(latest))


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value (like a password input)."""

    def format_value(self, value):
        """Nothing: a secret typed in stays out of the page, even on errors."""
        return None


class BackendAdminForm(forms.ModelForm):
    """A backend's settings plus write-only secrets, checked by the service."""

    set_secrets = forms.CharField(
        label="Set secrets",
        required=False,
        widget=WriteOnlyTextarea(attrs={"rows": 3, "autocomplete": "off"}),
        help_text='A JSON object of secrets, e.g. {"api_key": "..."}. Merged '
        'into the stored secrets; "" removes one. Stored values are never '
        "shown, and what you type here is not shown again.",
    )
    replace_secrets = forms.BooleanField(
        label="Replace all secrets",
        required=False,
        help_text="Drop every stored secret not in “Set secrets” (empty: drop all).",
    )

    class Meta:
        model = Backend
        fields = ["name", "kind", *services.BACKEND_FIELDS[1:]]

    def __init__(self, *args, actor=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor

    def clean_set_secrets(self) -> dict | None:
        """A JSON object of strings (None when left empty)."""
        raw = self.cleaned_data.get("set_secrets") or ""
        if not raw.strip():
            return None
        if len(raw) > MAX_SECRETS_CHARS:
            raise ValidationError(f"at most {MAX_SECRETS_CHARS} characters")
        try:
            value = json.loads(raw)
        except ValueError:
            # The parser's message may quote the input: keep it out of the page.
            raise ValidationError(
                'not valid JSON; write an object such as {"api_key": "..."}'
            ) from None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ValidationError(
                'secrets must be a JSON object of strings, e.g. {"api_key": "..."}'
            )
        return value

    def service_arguments(self) -> dict:
        """Keyword arguments for ``backend_create``/``backend_update``."""
        data = self.cleaned_data
        arguments = {key: data[key] for key in services.BACKEND_FIELDS}
        arguments["secrets"] = data.get("set_secrets")
        if self.instance.pk:
            arguments["replace_secrets"] = bool(data.get("replace_secrets"))
            if arguments["replace_secrets"] and arguments["secrets"] is None:
                arguments["secrets"] = {}
        return arguments

    def clean(self):
        """Ask the service what it would refuse, and show it by the field."""
        data = super().clean()
        if self.errors or self.actor is None:
            return data
        arguments = self.service_arguments()
        try:
            if self.instance.pk:
                services.backend_validate(
                    actor=self.actor,
                    backend=Backend.objects.get(pk=self.instance.pk),
                    **arguments,
                )
            else:
                services.backend_validate(
                    actor=self.actor, name=data.get("name") or "", **arguments
                )
        except DomainError as exc:
            field = {"secrets": "set_secrets"}.get(exc.field, exc.field)
            self.add_error(field if field in self.fields else None, exc.message)
        return data


@admin.register(Backend)
class BackendAdmin(admin.ModelAdmin):
    """Backends with their health; saved through the service (validated)."""

    form = BackendAdminForm

    list_display = (
        "name",
        "kind",
        "enabled",
        "allows_plaintext",
        "circuit_state",
        "latency",
        "errors",
        "last_check_at",
    )
    list_filter = ("kind", "enabled", "circuit_state", "allows_plaintext")
    search_fields = ("name",)

    @admin.display(description="latency", ordering="latency_ewma_ms")
    def latency(self, obj) -> str:
        """The moving average, rounded, with its unit."""
        value = obj.latency_ewma_ms
        return (
            "—"
            if value is None
            else f"{value:,.0f} ms"
            if value >= 10
            else (f"{value:.1f} ms")
        )

    @admin.display(description="error rate", ordering="error_rate")
    def errors(self, obj) -> str:
        value = obj.error_rate
        return "—" if value is None else f"{value:.0%}"

    readonly_fields = (
        "secret_names",
        "latency",
        "errors",
        "circuit_state",
        "consecutive_failures",
        "opened_at",
        "last_check_at",
        "last_error",
    )

    def get_fields(self, request, obj=None):
        """Settings, then secrets (names set; new ones), then health."""
        fields = ["name", "kind", *services.BACKEND_FIELDS[1:]]
        return [*fields, "secret_names", "set_secrets", "replace_secrets"] + [
            f for f in self.readonly_fields if f != "secret_names"
        ]

    def get_readonly_fields(self, request, obj=None):
        """A backend keeps its name (rules refer to it)."""
        if obj is not None:
            return ("name", *self.readonly_fields)
        return self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        """The form checks with the service as the operator."""
        form = super().get_form(request, obj, change=change, **kwargs)
        actor = actor_for_user(request.user)

        class _Form(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, actor=actor, **inner)

        return _Form

    @admin.display(description="Secrets set")
    def secret_names(self, obj) -> str:
        """Names of the stored secrets (values are never shown)."""
        if obj is None or not obj.pk or not obj.secrets_sealed:
            return "none"
        return ", ".join(services.backend_secret_names(obj))

    def save_model(self, request, obj, form, change):
        """Create/update through ``routing.services`` (checked by the form)."""
        actor = actor_for_user(request.user)
        arguments = form.service_arguments()
        try:
            if change:
                saved = services.backend_update(
                    actor=actor, backend=Backend.objects.get(pk=obj.pk), **arguments
                )
            else:
                arguments.pop("kind")
                saved = services.backend_create(
                    actor=actor, name=obj.name, kind=obj.kind, **arguments
                )
        except DomainError as exc:  # changed since the form checked
            messages.error(request, exc.message)
            return
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        """Delete through the service (refused while rules use it)."""
        services.backend_delete(actor=actor_for_user(request.user), backend=obj)


@admin.register(RoutingRule)
class RoutingRuleAdmin(admin.ModelAdmin):
    """Rules in evaluation order, with the explain tool as an action."""

    list_display = (
        "priority",
        "name",
        "enabled",
        "write_mode",
        "read_strategy",
        "write_backends",
        "read_backends",
    )
    list_display_links = ("name",)
    list_filter = ("enabled", "read_strategy", "write_mode")
    search_fields = ("name", "description")
    actions = ["explain"]

    def save_model(self, request, obj, form, change):
        """Validated by the service (unknown backends, plaintext, empty rules)."""
        actor = actor_for_user(request.user)
        fields = {k: form.cleaned_data[k] for k in services.RULE_FIELDS}
        try:
            if change:
                services.rule_update(
                    actor=actor, rule=RoutingRule.objects.get(pk=obj.pk), **fields
                )
            else:
                saved = services.rule_create(actor=actor, name=obj.name, **fields)
                obj.pk = saved.pk
        except DomainError as exc:
            messages.error(request, exc.message)

    def delete_model(self, request, obj):
        """Delete through the service (bumps the routing version)."""
        services.rule_delete(actor=actor_for_user(request.user), rule=obj)

    @admin.action(description="Explain: what each selected rule's spaces route to")
    def explain(self, request, queryset):
        """For each rule's first space pattern, show search and add routing."""
        for rule in queryset:
            space = ((rule.match or {}).get("spaces") or ["any/space"])[0]
            for op in ("add", "search"):
                result = selectors.route_explain(
                    op=rules.Operation(op=op, space=space.replace("*", "x"))
                )
                backends = result["write_backends"] + result["read_backends"]
                messages.info(
                    request,
                    f"{op} in {space}: rule {result['rule'] or '(none: local)'}; "
                    + ", ".join(f"{b['backend']} ({b['reason']})" for b in backends),
                )


@admin.register(OutboxEntry)
class OutboxEntryAdmin(ReadOnlyAdmin):
    """The outbox (ids only); dead letters can be retried."""

    list_display = (
        "id",
        "memory_id",
        "backend",
        "op",
        "seq",
        "state",
        "attempts",
        "next_at",
        "last_error",
    )
    list_filter = ("state", "op", "backend")
    search_fields = ("=memory_id", "idempotency_key")
    actions = ["retry"]

    @admin.action(description="Retry the selected entries now")
    def retry(self, request, queryset):
        """Back to pending, dispatched now."""
        count = services.outbox_retry(
            entry_ids=queryset.exclude(state=OutboxState.DELIVERED).values_list(
                "pk", flat=True
            )
        )
        messages.success(request, f"{count} entries queued for delivery")


@admin.register(ExternalRef)
class ExternalRefAdmin(ReadOnlyAdmin):
    """Which id each memory has in each backend (read-only)."""

    list_display = ("memory_id", "backend", "external_id", "applied_seq", "updated_at")
    list_filter = ("backend",)
    search_fields = ("=memory_id", "external_id")


# --- sync jobs ------------------------------------------------------------------


class SyncJobAdminForm(forms.ModelForm):
    """A sync job's settings, checked by the service (400s become field errors)."""

    class Meta:
        model = SyncJob
        fields = list(sync_services.JOB_FIELDS)
        help_texts = {
            "schedule": '{"every": 300} (seconds), {"crontab": "*/15 * * * *"} or '
            "{} to run on demand only",
            "filter": "MemoryHub's filter language on subject ids, categories and "
            'metadata, e.g. {"user_id": "alice"}',
        }

    def __init__(self, *args, actor=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor

    def service_values(self) -> dict:
        """Keyword arguments for the services."""
        return {key: self.cleaned_data[key] for key in sync_services.JOB_FIELDS}

    def clean(self):
        data = super().clean()
        if self.errors or self.actor is None:
            return data
        try:
            sync_services.sync_job_check(
                actor=self.actor,
                job=self.instance if self.instance.pk else None,
                **self.service_values(),
            )
        except DomainError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data


class SyncRunInline(LatestInline):
    """The job's latest runs (read-only)."""

    model = SyncRun
    fields = ("started_at", "trigger", "state", "duration_ms", "seen", "created")
    fields += ("updated", "deleted", "conflicts", "errors", "message")
    readonly_fields = fields
    ordering = ("-started_at",)
    show_change_link = True


@admin.register(SyncJob)
class SyncJobAdmin(admin.ModelAdmin):
    """Sync jobs with their last and next run; "run now" as an action."""

    form = SyncJobAdminForm
    list_display = (
        "name",
        "space",
        "backend",
        "direction",
        "enabled",
        "last_run",
        "next_run",
        "failures",
        "last_error",
    )
    list_filter = ("direction", "enabled", "backend")
    search_fields = ("name", "space__slug", "space__team__slug")
    list_select_related = ("space", "space__team", "backend", "periodic_task")
    readonly_fields = ("failures", "backoff_until", "last_error", "next_run")
    inlines = [SyncRunInline]
    actions = ["run_now"]

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        latest = SyncRun.objects.filter(job=OuterRef("pk")).order_by("-started_at")
        return queryset.annotate(
            last_state=Subquery(latest.values("state")[:1]),
            last_started=Subquery(latest.values("started_at")[:1]),
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        """The form checks with the service as the operator."""
        form = super().get_form(request, obj, change=change, **kwargs)
        actor = actor_for_user(request.user)

        class _Form(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, actor=actor, **inner)

        return _Form

    @admin.display(description="Last run")
    def last_run(self, obj) -> str:
        state = getattr(obj, "last_state", None)
        if state is None:
            return "never"
        return f"{state} at {obj.last_started:%Y-%m-%d %H:%M:%S}"

    @admin.display(description="Next run")
    def next_run(self, obj) -> str:
        moment = sync_selectors.next_run_at(obj) if obj.pk else None
        return f"{moment:%Y-%m-%d %H:%M:%S}" if moment else "on demand"

    def save_model(self, request, obj, form, change):
        """Create / change through the service (which keeps the schedule)."""
        actor = actor_for_user(request.user)
        values = form.service_values()
        try:
            if change:
                saved = sync_services.sync_job_update(
                    actor=actor, job=SyncJob.objects.get(pk=obj.pk), **values
                )
            else:
                saved = sync_services.sync_job_create(
                    actor=actor, created_by=request.user, **values
                )
        except DomainError as exc:  # changed since the form checked
            messages.error(request, exc.message)
            return
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        """Delete through the service (the schedule goes too)."""
        sync_services.sync_job_delete(actor=actor_for_user(request.user), job=obj)

    def delete_queryset(self, request, queryset):
        for job in queryset:
            self.delete_model(request, job)

    @admin.action(description="Run the selected jobs now")
    def run_now(self, request, queryset):
        """Start a run of each (a job already running records a skipped run)."""
        actor = actor_for_user(request.user)
        for job in queryset:
            run = sync_services.sync_job_run(
                actor=actor, job=job, trigger=SyncTrigger.MANUAL
            )
            messages.info(request, f"{job.name}: run {run.pk} {run.state}")


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    """Run history: counts, cursors' progress and errors (never content)."""

    list_display = (
        "id",
        "job",
        "trigger",
        "state",
        "started_at",
        "duration_ms",
        "seen",
        "created",
        "updated",
        "deleted",
        "conflicts",
        "errors",
    )
    list_filter = ("state", "trigger", "job")
    list_select_related = ("job",)
    exclude = ("cursor_before", "cursor_after")


# --- webhooks -------------------------------------------------------------------


class WebhookDeliveryInline(LatestInline):
    """The webhook's latest deliveries (ids and status only)."""

    model = WebhookDelivery
    fields = ("at", "event", "memory_id", "version", "state", "attempts")
    fields += ("response_status", "last_error")
    readonly_fields = fields


@admin.register(Webhook)
class WebhookAdmin(ReadOnlyAdmin):
    """Webhooks (read-only here: teams manage them through the API; the
    secret is never shown)."""

    list_display = ("name", "space", "url", "events", "enabled", "include_content")
    list_filter = ("enabled", "include_content")
    search_fields = ("name", "url", "space__slug", "space__team__slug")
    list_select_related = ("space", "space__team")
    fields = ("space", "name", "url", "events", "enabled", "include_content")
    fields += ("created_by", "created_at", "updated_at")
    readonly_fields = fields
    inlines = [WebhookDeliveryInline]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    """Every delivery; dead letters can be retried."""

    list_display = ("id", "webhook", "event", "memory_id", "version", "state")
    list_display += ("attempts", "response_status", "next_at", "last_error")
    list_filter = ("state", "event")
    list_select_related = ("webhook",)
    search_fields = ("=memory_id", "=event_id")
    actions = ["retry"]

    @admin.action(description="Retry the selected deliveries now")
    def retry(self, request, queryset):
        """Back to pending, dispatched now."""
        count = 0
        for webhook in Webhook.objects.filter(
            pk__in=queryset.values("webhook_id")
        ).select_related("space"):
            count += webhooks.webhook_retry(
                actor=SYSTEM,
                space=webhook.space,
                webhook=webhook,
                ids=list(queryset.filter(webhook=webhook).values_list("pk", flat=True)),
            )
        messages.success(request, f"{count} deliveries queued")
