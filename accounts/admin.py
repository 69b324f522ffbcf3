"""Admin console for accounts: users, teams with memberships, API keys.

Writes go through :mod:`accounts.services`, so a team created here gets its
permission group and a membership edited here keeps the group in step. API
keys are created where their secret can be shown once (the CLI, the team UI)
and are never editable here; the hash is never displayed, and revocation is
an admin action.
"""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, Q
from django.utils import timezone

from accounts import services
from accounts.models import ApiKey, Membership, Team, User
from memoryhub.admin import ReadOnlyAdmin, SlugForm


class MembershipInline(admin.TabularInline):
    """A team's members and their roles."""

    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


class UserMembershipInline(admin.TabularInline):
    """The teams a user belongs to (read-only here; edit from the team)."""

    model = Membership
    extra = 0
    fields = ["team", "role", "created_at"]
    readonly_fields = ["team", "role", "created_at"]
    can_delete = False
    verbose_name_plural = "team memberships (edit them on the team)"

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin plus the user's team memberships."""

    inlines = [UserMembershipInline]
    list_filter = [*DjangoUserAdmin.list_filter, "memberships__team"]


def _sync_memberships(team: Team, formset) -> None:
    """Save a membership formset through the services (group kept in step)."""
    instances = formset.save(commit=False)
    for membership in formset.deleted_objects:
        services.membership_remove(team=team, user=membership.user)
    for membership in instances:
        if membership.pk:
            before = Membership.objects.get(pk=membership.pk)
            if before.user_id != membership.user_id:
                services.membership_remove(team=team, user=before.user)
        services.membership_set(team=team, user=membership.user, role=membership.role)


class TeamForm(SlugForm):
    """Validates a new team the way :func:`team_create` will."""

    class Meta:
        model = Team
        fields = ["slug", "name"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """Teams with their members; created through ``team_create``."""

    form = TeamForm
    list_display = ["slug", "name", "member_count", "key_count", "created_at"]
    search_fields = ["slug", "name"]
    list_filter = ["created_at"]
    readonly_fields = ["group", "created_at"]
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                member_count=Count("memberships", distinct=True),
                key_count=Count(
                    "api_keys",
                    filter=Q(api_keys__revoked_at__isnull=True),
                    distinct=True,
                ),
            )
        )

    @admin.display(description="members", ordering="member_count")
    def member_count(self, team: Team) -> int:
        return team.member_count

    @admin.display(description="active keys", ordering="key_count")
    def key_count(self, team: Team) -> int:
        return team.key_count

    def get_readonly_fields(self, request, obj=None):
        # The slug names the team's permission group: fixed once created.
        return [*self.readonly_fields, "slug"] if obj else self.readonly_fields

    def save_model(self, request, obj: Team, form, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        created = services.team_create(slug=obj.slug, name=obj.name)
        # The form's instance becomes the created row, so inlines attach to it.
        obj.pk, obj.group = created.pk, created.group
        obj.created_at = created.created_at
        obj._state.adding = False

    def save_formset(self, request, form, formset, change: bool) -> None:
        if formset.model is Membership:
            _sync_memberships(form.instance, formset)
        else:
            super().save_formset(request, form, formset, change)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    """Every membership, searchable by user and team."""

    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role", "team"]
    search_fields = ["user__username", "user__email", "team__slug", "team__name"]
    autocomplete_fields = ["user", "team"]
    readonly_fields = ["created_at"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "user", "team"] if obj else self.readonly_fields

    def save_model(self, request, obj: Membership, form, change: bool) -> None:
        saved = services.membership_set(team=obj.team, user=obj.user, role=obj.role)
        obj.pk = saved.pk

    def delete_model(self, request, obj: Membership) -> None:
        services.membership_remove(team=obj.team, user=obj.user)

    def delete_queryset(self, request, queryset) -> None:
        for membership in queryset.select_related("team", "user"):
            services.membership_remove(team=membership.team, user=membership.user)


class KeyStatusFilter(admin.SimpleListFilter):
    """Active / revoked / expired."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("revoked", "Revoked"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        now = timezone.now()
        not_expired = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        if self.value() == "active":
            return queryset.filter(not_expired, revoked_at__isnull=True)
        if self.value() == "revoked":
            return queryset.filter(revoked_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=now)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    """API keys: read-only, never the hash; revoke them with the action.

    No add: the secret must be shown exactly once, so `manage.py
    create_api_key` or the team UI create keys. No delete: revoked keys stay,
    so the audit log's key ids keep their meaning.
    """

    list_display = [
        "name",
        "prefix",
        "team",
        "read_only",
        "status",
        "expires_at",
        "last_used_at",
        "created_at",
    ]
    list_filter = [KeyStatusFilter, "read_only", "team"]
    search_fields = ["name", "prefix", "team__slug"]
    fields = [
        "name",
        "prefix",
        "team",
        "read_only",
        "space_slugs",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "created_by",
        "created_at",
    ]
    readonly_fields = fields
    actions = ["revoke"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("team")

    @admin.display(description="spaces")
    def space_slugs(self, api_key: ApiKey) -> str:
        """The spaces the key is limited to (``spaces`` is declared by memories)."""
        return ", ".join(sorted(s.slug for s in api_key.spaces.all())) or "all"

    @admin.display(description="status")
    def status(self, api_key: ApiKey) -> str:
        if api_key.revoked_at is not None:
            return "revoked"
        if api_key.expires_at is not None and api_key.expires_at <= timezone.now():
            return "expired"
        return "active"

    @admin.action(description="Revoke selected API keys", permissions=["revoke"])
    def revoke(self, request, queryset) -> None:
        count = 0
        for api_key in queryset:
            if api_key.revoked_at is None:
                services.api_key_revoke(api_key=api_key)
                count += 1
        self.message_user(request, f"Revoked {count} API key(s).", messages.SUCCESS)

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("accounts.change_apikey")
