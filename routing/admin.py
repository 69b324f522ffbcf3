"""Admin console for routing: backends, rules, the outbox and external ids.

Secrets are never displayed (only whether some are set); writes go through
``routing.services`` so validation, sealing and cache invalidation apply;
dead letters are retryable with an action; the explain tool is an action on
rules that shows, per operation, which rule matches and which backends serve.
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from accounts.actors import actor_for_user
from memoryhub.errors import DomainError
from routing import rules, selectors, services
from routing.models import Backend, ExternalRef, OutboxEntry, OutboxState, RoutingRule


@admin.register(Backend)
class BackendAdmin(admin.ModelAdmin):
    """Backends with their health; saved through the service (validated)."""

    list_display = (
        "name",
        "kind",
        "enabled",
        "allows_plaintext",
        "circuit_state",
        "latency_ewma_ms",
        "error_rate",
        "last_check_at",
    )
    list_filter = ("kind", "enabled", "circuit_state", "allows_plaintext")
    search_fields = ("name",)
    readonly_fields = (
        "latency_ewma_ms",
        "error_rate",
        "circuit_state",
        "consecutive_failures",
        "opened_at",
        "last_check_at",
        "last_error",
    )
    exclude = ("secrets_sealed",)

    def save_model(self, request, obj, form, change):
        """Create/update through ``routing.services`` (secrets: use the API)."""
        actor = actor_for_user(request.user)
        fields = {k: form.cleaned_data[k] for k in services.BACKEND_FIELDS}
        try:
            if change:
                saved = services.backend_update(
                    actor=actor, backend=Backend.objects.get(pk=obj.pk), **fields
                )
            else:
                fields.pop("kind")
                saved = services.backend_create(
                    actor=actor, name=obj.name, kind=obj.kind, **fields
                )
        except DomainError as exc:
            raise ValidationError(exc.message) from exc
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
class OutboxEntryAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        """Entries are created by writes only."""
        return False

    def has_change_permission(self, request, obj=None):
        """Read-only; use the retry action."""
        return False

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
class ExternalRefAdmin(admin.ModelAdmin):
    """Which id each memory has in each backend (read-only)."""

    list_display = ("memory_id", "backend", "external_id", "applied_seq", "updated_at")
    list_filter = ("backend",)
    search_fields = ("=memory_id", "external_id")

    def has_add_permission(self, request):
        """Maintained by delivery only."""
        return False

    def has_change_permission(self, request, obj=None):
        """Read-only."""
        return False
