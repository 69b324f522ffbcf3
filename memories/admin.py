"""Admin console for memories: spaces, memories, keys, history and the audit log.

Rules the console keeps:
- no plaintext on list pages: memory lists show ids, scope and state only;
- a memory's detail page shows its decrypted content read-only, and each
  view is recorded in the audit log (``memory.read``, surface ``admin``);
- content is never added or edited here, and deletion goes through
  :func:`memories.services.services.memory_delete`;
- wrapped key bytes, ciphertexts and MACs are never displayed;
- audit, history and key rows are read-only;
- spaces are created, changed, shared, rotated and shredded through the
  services, so guardian permissions, keys and the audit stay consistent.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.db.models import Q
from django.template.response import TemplateResponse
from django.utils.html import format_html
from guardian.admin import (
    AdminGroupObjectPermissionsForm,
    AdminUserObjectPermissionsForm,
    GuardedModelAdmin,
)

from accounts.actors import actor_for_user
from audit.services import access_record
from memories import permissions, services
from memories.encryption import sealing
from memories.encryption.rotation import space_data_key_rotate
from memories.models import (
    Memory,
    MemoryEvent,
    Space,
    SpaceGroupObjectPermission,
    SpaceKey,
    SpaceUserObjectPermission,
)
from memoryhub.admin import ReadOnlyAdmin, SlugForm, uuid_or_none
from memoryhub.crypto import DecryptionError
from memoryhub.errors import DomainError

# --- spaces -------------------------------------------------------------------------


class SpaceForm(SlugForm):
    """Validates a new space the way :func:`space_create` will."""

    class Meta:
        model = Space
        fields = [
            "team",
            "slug",
            "name",
            "description",
            "retention_days",
        ]

    def clean_retention_days(self):
        days = self.cleaned_data["retention_days"]
        if days is not None and days < 1:
            raise forms.ValidationError("Leave empty for no expiry, or use 1 or more.")
        return days


class ShreddedFilter(admin.SimpleListFilter):
    """Live or shredded spaces."""

    title = "state"
    parameter_name = "shredded"

    def lookups(self, request, model_admin):
        return [("no", "Live"), ("yes", "Shredded")]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(shredded_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(shredded_at__isnull=False)
        return queryset


def _space_perm_form(base, actor, target: str):
    """A guardian object-permission form limited to space permissions that
    saves through :mod:`memories.services.sharing` (so grants are audited and imply
    ``view_space``, as everywhere else)."""

    class SpacePermissionsForm(base):
        def get_obj_perms_field_choices(self):
            return [
                (codename, name)
                for codename, name in super().get_obj_perms_field_choices()
                if codename in permissions.ALL_PERMS
            ]

        def clean(self):
            cleaned = super().clean()
            if target == "group" and not hasattr(self.group, "team"):
                raise forms.ValidationError(
                    "Space permissions are granted to teams: pick a team's group "
                    "(named team:<slug>)."
                )
            if target == "user" and not self.user.is_active:
                raise forms.ValidationError("This user is inactive.")
            return cleaned

        def save_obj_perms(self) -> None:
            if target == "user":
                principal = {"user": self.user.get_username()}
            else:
                principal = {"team": self.group.team.slug}
            services.space_grant_set(
                actor=actor,
                space=self.obj,
                perms=sorted(self.cleaned_data[self.get_obj_perms_field_name()]),
                surface="admin",
                **principal,
            )

    return SpacePermissionsForm


@admin.register(Space)
class SpaceAdmin(GuardedModelAdmin):
    """Spaces, their object permissions (guardian), key rotation and shredding."""

    form = SpaceForm
    list_display = [
        "slug",
        "team",
        "name",
        "retention_days",
        "shredded_at",
        "created_at",
    ]
    list_filter = [ShreddedFilter, "team", "created_at"]
    search_fields = ["slug", "name", "team__slug", "=uuid"]
    list_select_related = ["team"]
    readonly_fields = ["uuid", "shredded_at", "created_at", "updated_at"]
    actions = ["rotate_data_key", "shred"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        return ["team", "slug", *self.readonly_fields]

    def has_delete_permission(self, request, obj=None) -> bool:
        # Shredding (destroy keys, then purge) replaces deletion.
        return False

    def save_model(self, request, obj: Space, form, change: bool) -> None:
        actor = actor_for_user(request.user)
        if change:
            editable = {"name", "description", "retention_days"}
            fields = {
                name: form.cleaned_data[name]
                for name in form.changed_data
                if name in editable
            }
            services.space_update(actor=actor, space=obj, surface="admin", **fields)
            return
        created = services.space_create(
            actor=actor,
            team=obj.team,
            slug=obj.slug,
            name=obj.name,
            description=obj.description,
            retention_days=obj.retention_days,
            surface="admin",
        )
        obj.pk, obj.uuid = created.pk, created.uuid
        obj._state.adding = False

    def get_obj_perms_manage_user_form(self, request):
        return _space_perm_form(
            AdminUserObjectPermissionsForm, actor_for_user(request.user), "user"
        )

    def get_obj_perms_manage_group_form(self, request):
        return _space_perm_form(
            AdminGroupObjectPermissionsForm, actor_for_user(request.user), "group"
        )

    @admin.action(description="Rotate the data key of selected spaces")
    def rotate_data_key(self, request, queryset) -> None:
        actor = actor_for_user(request.user)
        rotated = []
        for space in queryset.filter(shredded_at__isnull=True):
            key = space_data_key_rotate(actor=actor, space=space, surface="admin")
            rotated.append(f"{space.team.slug}/{space.slug} → v{key.version}")
        if not rotated:
            self.message_user(request, "No live space selected.", messages.WARNING)
            return
        self.message_user(
            request,
            f"New data keys: {', '.join(rotated)}. A Celery worker re-encrypts "
            "older rows in the background; reads keep working meanwhile.",
            messages.SUCCESS,
        )

    @admin.action(description="Shred selected spaces (destroys their data)")
    def shred(self, request, queryset):
        spaces = list(queryset.filter(shredded_at__isnull=True).select_related("team"))
        if not spaces:
            self.message_user(request, "No live space selected.", messages.WARNING)
            return None
        if request.POST.get("post") == "yes":
            actor = actor_for_user(request.user)
            for space in spaces:
                services.space_shred(actor=actor, space=space, surface="admin")
            self.message_user(
                request,
                f"Shredded {len(spaces)} space(s): their keys are destroyed and "
                "their rows are being purged.",
                messages.SUCCESS,
            )
            return None
        counts = {
            space.pk: Memory.objects.filter(space=space).count() for space in spaces
        }
        context = {
            **self.admin_site.each_context(request),
            "title": "Shred spaces? This cannot be undone",
            "opts": self.opts,
            "spaces": [(space, counts[space.pk]) for space in spaces],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(
            request, "admin/memories/space/shred_confirmation.html", context
        )


@admin.register(SpaceKey)
class SpaceKeyAdmin(ReadOnlyAdmin):
    """Data keys: version, state and wrapping master key id — never key bytes."""

    list_display = ["space", "version", "state", "master_key_id", "created_at"]
    list_filter = ["state", "master_key_id"]
    search_fields = ["space__slug", "space__team__slug"]
    list_select_related = ["space__team"]
    fields = ["space", "version", "state", "master_key_id", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("wrapped_key")


@admin.register(SpaceUserObjectPermission)
class SpaceUserObjectPermissionAdmin(ReadOnlyAdmin):
    """Users' object permissions on spaces (change them on the space)."""

    list_display = ["content_object", "user", "permission"]
    list_filter = ["permission"]
    search_fields = ["user__username", "content_object__slug"]
    list_select_related = ["content_object__team", "user", "permission"]


@admin.register(SpaceGroupObjectPermission)
class SpaceGroupObjectPermissionAdmin(ReadOnlyAdmin):
    """Teams' (groups') object permissions on spaces (change them on the space)."""

    list_display = ["content_object", "group", "permission"]
    list_filter = ["permission"]
    search_fields = ["group__name", "content_object__slug"]
    list_select_related = ["content_object__team", "group", "permission"]


# --- memories -----------------------------------------------------------------------


@admin.register(Memory)
class MemoryAdmin(admin.ModelAdmin):
    """Memories: lists without content; the detail page decrypts, and is audited."""

    list_display = [
        "id",
        "space",
        "user_id",
        "agent_id",
        "state",
        "version",
        "created_at",
    ]
    list_filter = ["state", "immutable", "space__team", "space", "created_at"]
    search_fields = ["user_id", "agent_id", "app_id", "run_id"]
    search_help_text = "A memory id, or a user / agent / app / run id."
    list_select_related = ["space__team"]
    fields = [
        "id",
        "space",
        "decrypted_content",
        "user_id",
        "agent_id",
        "app_id",
        "run_id",
        "metadata",
        "categories",
        "state",
        "immutable",
        "version",
        "key_version",
        "expires_at",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        # Lists never load ciphertexts, MACs or vectors; the detail page needs
        # the content to decrypt it.
        qs = super().get_queryset(request)
        match = getattr(request, "resolver_match", None)
        if match is None or not match.url_name.endswith("_change"):
            qs = qs.defer("content", "content_mac", "keyword_index", "embedding")
        return qs

    def get_search_results(self, request, queryset, search_term):
        found, may_have_duplicates = super().get_search_results(
            request, queryset, search_term
        )
        memory_id = uuid_or_none(search_term)
        if memory_id is not None:
            found = found | queryset.filter(pk=memory_id)
        return found, may_have_duplicates

    @admin.display(description="content (decrypted; viewing is audited)")
    def decrypted_content(self, memory: Memory) -> str:
        try:
            text = sealing.memory_content(memory)
        except (DecryptionError, DomainError) as exc:
            return f"(cannot decrypt: {exc})"
        return format_html('<div style="white-space: pre-wrap">{}</div>', text)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            memory = self.get_object(request, unquote(object_id))
            if memory is not None:
                access_record(
                    actor=actor_for_user(request.user),
                    action="memory.read",
                    surface="admin",
                    space=memory.space,
                    memory_ids=[memory.pk],
                )
        return response

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_deleted_objects(self, objs, request):
        # Deletion is the service's soft delete (history kept), not a cascade:
        # list just the memories, and no related-object permission is needed.
        objs = list(objs)
        return [str(memory) for memory in objs], {"memories": len(objs)}, set(), []

    def delete_model(self, request, obj: Memory) -> None:
        services.memory_delete(
            actor=actor_for_user(request.user),
            space=obj.space,
            memory_id=obj.pk,
            surface="admin",
        )

    def delete_queryset(self, request, queryset) -> None:
        actor = actor_for_user(request.user)
        by_space: dict[int, list] = {}
        for memory_id, space_id in queryset.values_list("pk", "space_id"):
            by_space.setdefault(space_id, []).append(memory_id)
        for space in Space.objects.filter(pk__in=by_space):
            services.memory_delete_where(
                actor=actor,
                space=space,
                queryset=Memory.objects.filter(pk__in=by_space[space.pk]).exclude(
                    state="deleted"
                ),
                surface="admin",
            )


@admin.register(MemoryEvent)
class MemoryEventAdmin(ReadOnlyAdmin):
    """Memory history (ADD / UPDATE / DELETE) — who and when, never the contents."""

    list_display = ["at", "memory_id", "event", "actor", "surface", "key_version"]
    list_filter = ["event", "surface", "at"]
    search_fields = ["actor"]
    search_help_text = "An actor, or a memory id."
    date_hierarchy = "at"
    fields = ["memory", "event", "actor", "surface", "key_version", "at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("old_content", "new_content")

    def get_search_results(self, request, queryset, search_term):
        found, may_have_duplicates = super().get_search_results(
            request, queryset, search_term
        )
        memory_id = uuid_or_none(search_term)
        if memory_id is not None:
            found = found | queryset.filter(Q(memory_id=memory_id) | Q(pk=memory_id))
        return found, may_have_duplicates


from memories import admin_extraction  # noqa: E402, F401 - registers its admins
