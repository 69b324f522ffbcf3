"""Bulk actions on memories selected in the browser: archive, delete, erase.

The first POST (from the browser's checkboxes) shows what will happen; the
second (with ``confirm``) does it, one memory at a time through the same
services as a single action, reporting each refusal (a version conflict, an
immutable memory, one deleted meanwhile) without stopping the others.
"""

from django.contrib import messages
from django.shortcuts import redirect, render

from memories import permissions, services
from memories.models import MemoryState
from memoryhub.errors import DomainError, Forbidden, NotFound
from web.forms import BulkForm
from web.views.base import SURFACE, SpaceMixin, WebView, space_url

PERMS = {
    "archive": permissions.CHANGE,
    "delete": permissions.DELETE,
    "erase": permissions.DELETE,
}
EXPLAIN = {
    "archive": "Archived memories leave lists and searches; they can be restored.",
    "delete": "Deleted memories leave lists and searches; their history is kept.",
    "erase": "Erased memories are removed for good, history included. "
    "This cannot be undone.",
}


class BulkView(SpaceMixin, WebView):
    def post(self, request, team_slug, slug):
        form = BulkForm(request.POST)
        space = self.get_space()
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return redirect(space_url(space))
        action, ids = form.cleaned_data["action"], form.cleaned_data["ids"]
        space = self.get_space(PERMS[action])
        confirmed = form.cleaned_data["confirm"]
        if action == "erase" and confirmed and confirmed != "erase":
            messages.error(request, 'Type "erase" to confirm; nothing was erased.')
            confirmed = ""
        if not confirmed:
            context = {
                "space": space,
                "action": action,
                "ids": ids,
                "explanation": EXPLAIN[action],
                "crumbs": [
                    (space.name or space.slug, space_url(space)),
                    (f"{action.capitalize()} {len(ids)}", None),
                ],
            }
            return render(request, "web/space/bulk_confirm.html", context)
        done, failed = 0, []
        for memory_id in ids:
            try:
                self._apply(action, space, memory_id)
            except (NotFound, Forbidden, DomainError) as exc:
                failed.append(f"{memory_id[:8]}: {exc.message}")
            else:
                done += 1
        if done:
            verb = {"archive": "archived", "delete": "deleted", "erase": "erased"}
            messages.success(
                request, f"{done} memor{'y' if done == 1 else 'ies'} {verb[action]}."
            )
        for failure in failed:
            messages.error(request, failure)
        return redirect(space_url(space))

    def _apply(self, action: str, space, memory_id: str) -> None:
        if action == "archive":
            services.memory_update(
                actor=self.actor,
                space=space,
                memory_id=memory_id,
                state=MemoryState.ARCHIVED,
                surface=SURFACE,
            )
        else:
            services.memory_delete(
                actor=self.actor,
                space=space,
                memory_id=memory_id,
                hard=action == "erase",
                surface=SURFACE,
            )
