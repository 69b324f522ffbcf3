"""One memory: its page, its edit form, and archive / restore / delete."""

import json

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render

from memories import permissions, selectors, services
from memories.models import MemoryState
from memoryhub.errors import DomainError, Forbidden, NotFound
from web.diff import word_diff
from web.forms import MemoryEditForm, domain_error_to_form
from web.views.base import SURFACE, SpaceMixin, WebView, memory_url, space_url


class MemoryView(SpaceMixin, WebView):
    """One memory: its fields, its history, and (for those allowed) its edit
    form; a POST saves an edit against the version that was shown."""

    def get(self, request, team_slug, slug, memory_id):
        return self._page(self.get_space(), memory_id)

    def post(self, request, team_slug, slug, memory_id):
        space = self.get_space(permissions.CHANGE)
        current = self._memory(space, memory_id)
        form = MemoryEditForm(request.POST, initial=MemoryEditForm.initial_for(current))
        if form.is_valid():
            try:
                services.memory_update(
                    actor=self.actor,
                    space=space,
                    memory_id=memory_id,
                    expected_version=form.cleaned_data["version"],
                    surface=SURFACE,
                    **form.changes(),
                )
            except (NotFound, Forbidden):
                raise
            except DomainError as exc:
                if (
                    exc.status == 409
                    and current.version != form.cleaned_data["version"]
                ):
                    form = self._conflict_form(request.POST, current)
                else:
                    domain_error_to_form(form, exc)
            else:
                messages.success(request, "Memory saved.")
                return redirect(memory_url(space, memory_id))
        return self._page(
            space,
            memory_id,
            edit_form=form,
            status=409 if form.errors.get("__all__") else 400,
        )

    @staticmethod
    def _conflict_form(data, current) -> MemoryEditForm:
        """The person's edit, kept, now against the current version (saving
        again replaces what changed meanwhile, knowingly)."""
        data = data.copy()
        data["version"] = current.version
        form = MemoryEditForm(data, initial=MemoryEditForm.initial_for(current))
        form.is_valid()
        form.add_error(
            None,
            f"This memory changed while you were editing it (it is now at "
            f"version {current.version}). Its current content is shown above; "
            "your text is kept below. Save again to replace it.",
        )
        return form

    def _memory(self, space, memory_id):
        return selectors.memory_get(
            actor=self.actor,
            space=space,
            memory_id=memory_id,
            surface=SURFACE,
            include_deleted=True,
        )

    def _page(self, space, memory_id, *, edit_form=None, status: int = 200):
        memory = self._memory(space, memory_id)
        history = selectors.memory_history(
            actor=self.actor, space=space, memory_id=memory_id, surface=SURFACE
        )
        for event in history:
            old, new = event["old_content"], event["new_content"]
            event["diff"] = (
                word_diff(old, new) if old is not None and new is not None else None
            )
        history.reverse()  # newest first
        trail = selectors.memory_audit_trail(
            actor=self.actor, space=space, memory_id=memory_id
        )
        perms = permissions.space_perms(self.actor, space)
        live = memory.state != MemoryState.DELETED
        can_change = live and permissions.CHANGE in perms
        editable = can_change and not memory.immutable
        if edit_form is None and editable:
            edit_form = MemoryEditForm(initial=MemoryEditForm.initial_for(memory))
        elif edit_form is not None and not editable:
            # No form to show the refusal next to (immutable, deleted meanwhile).
            for error in edit_form.non_field_errors():
                messages.error(self.request, error)
            edit_form = None
        context = {
            "space": space,
            "memory": memory,
            "metadata_json": json.dumps(memory.metadata, indent=2, ensure_ascii=False),
            "crumbs": [
                (space.name or space.slug, space_url(space)),
                (f"Memory {str(memory.pk)[:8]}", None),
            ],
            "history": history,
            "trail": trail,
            "edit_form": edit_form,
            "can_change": can_change,
            "can_delete": live and permissions.DELETE in perms,
            "can_erase": permissions.DELETE in perms,
        }
        return render(self.request, "web/memory/detail.html", context, status=status)


ACTIONS = {
    "archive": (
        permissions.CHANGE,
        "Archive",
        "Archived memories leave lists and searches; they can be restored.",
    ),
    "restore": (permissions.CHANGE, "Restore", "The memory becomes active again."),
    "delete": (
        permissions.DELETE,
        "Delete",
        "The memory is deleted; its history is kept.",
    ),
    "erase": (
        permissions.DELETE,
        "Erase",
        "The memory and its history are removed for good, here and (through "
        "routing) in the backends that hold copies. This cannot be undone.",
    ),
}


class MemoryActionView(SpaceMixin, WebView):
    """Archive, restore, delete or erase a memory: GET asks to confirm, POST
    does it (erasure: after the first 8 characters of the id are typed)."""

    def get(self, request, team_slug, slug, memory_id, action):
        perm, label, explanation = self._action(action)
        space = self.get_space(perm)
        memory = selectors.memory_get(
            actor=self.actor,
            space=space,
            memory_id=memory_id,
            surface=SURFACE,
            include_deleted=action == "erase",
        )
        context = {
            "space": space,
            "memory": memory,
            "action": action,
            "label": label,
            "crumbs": [
                (space.name or space.slug, space_url(space)),
                (f"Memory {str(memory.pk)[:8]}", memory_url(space, memory.pk)),
                (label, None),
            ],
            "explanation": explanation,
        }
        return render(request, "web/memory/confirm.html", context)

    def post(self, request, team_slug, slug, memory_id, action):
        perm, label, _ = self._action(action)
        space = self.get_space(perm)
        if (
            action == "erase"
            and request.POST.get("confirm", "").strip() != str(memory_id)[:8]
        ):
            messages.error(
                request, "Type the first 8 characters of the id; nothing was erased."
            )
            return redirect(memory_url(space, memory_id) + "erase/")
        try:
            if action in ("delete", "erase"):
                services.memory_delete(
                    actor=self.actor,
                    space=space,
                    memory_id=memory_id,
                    hard=action == "erase",
                    surface=SURFACE,
                )
                messages.success(request, f"Memory {action}d.")
                return redirect(space_url(space))
            services.memory_update(
                actor=self.actor,
                space=space,
                memory_id=memory_id,
                state=MemoryState.ARCHIVED
                if action == "archive"
                else MemoryState.ACTIVE,
                expected_version=_version(request.POST.get("version")),
                surface=SURFACE,
            )
        except (NotFound, Forbidden):
            raise
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Memory {label.lower()}d.")
        return redirect(memory_url(space, memory_id))

    @staticmethod
    def _action(action: str) -> tuple:
        if action not in ACTIONS:
            raise Http404(f"no action {action!r}")
        return ACTIONS[action]


def _version(raw) -> int | None:
    """The version a confirmation page showed (None: whatever is current)."""
    return int(raw) if raw and raw.isdigit() else None
