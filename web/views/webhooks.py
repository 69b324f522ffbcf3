"""A space's webhooks: list, add (the signing secret shown once), pause,
delete, and each one's deliveries with the dead ones retried.

For the people who manage the space (``manage_space``); the services decide
(:mod:`routing.webhooks`), these pages only show and ask.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from memories import permissions
from memoryhub.errors import DomainError, Forbidden, NotFound
from routing import webhooks
from routing.models import OutboxState
from web.forms import WebhookForm, domain_error_to_form
from web.navigation import space_tabs
from web.views.base import SpaceMixin, WebView, space_url

DELIVERIES_SHOWN = 50


def webhooks_url(space) -> str:
    return reverse(
        "web:space_webhooks", kwargs={"team_slug": space.team.slug, "slug": space.slug}
    )


def webhook_url(space, webhook) -> str:
    return reverse(
        "web:space_webhook",
        kwargs={
            "team_slug": space.team.slug,
            "slug": space.slug,
            "webhook_pk": webhook.pk,
        },
    )


def _crumbs(space, *more) -> list:
    return [(space.name or space.slug, space_url(space)), *more]


class WebhooksView(SpaceMixin, WebView):
    """GET: the space's webhooks and the form; POST: add one."""

    def get(self, request, team_slug, slug):
        return self._page(self.get_space(permissions.MANAGE), WebhookForm())

    def post(self, request, team_slug, slug):
        space = self.get_space(permissions.MANAGE)
        form = WebhookForm(request.POST)
        if form.is_valid():
            try:
                webhook, secret = webhooks.webhook_create(
                    actor=self.actor, space=space, **form.cleaned_data
                )
            except (NotFound, Forbidden):
                raise
            except DomainError as exc:
                domain_error_to_form(form, exc)
            else:
                context = {
                    "space": space,
                    "webhook": webhook,
                    "secret": secret,
                    "crumbs": _crumbs(
                        space, ("Webhooks", webhooks_url(space)), (webhook.name, None)
                    ),
                }
                response = render(request, "web/space/webhook_created.html", context)
                add_never_cache_headers(response)
                return response
        return self._page(space, form, status=400)

    def _page(self, space, form, status=200):
        perms = permissions.space_perms(self.actor, space)
        context = {
            "space": space,
            "webhooks": webhooks.webhooks_of(actor=self.actor, space=space),
            "form": form,
            "tabs": space_tabs(space, perms, "web:space_webhooks"),
            "crumbs": _crumbs(space, ("Webhooks", None)),
        }
        return render(self.request, "web/space/webhooks.html", context, status=status)


class WebhookView(SpaceMixin, WebView):
    """GET: one webhook and its latest deliveries; POST ``action``: pause,
    resume, retry the dead deliveries, or delete."""

    ACTIONS = ("pause", "resume", "retry", "delete")

    def get(self, request, team_slug, slug, webhook_pk):
        space = self.get_space(permissions.MANAGE)
        webhook = webhooks.webhook_get(
            actor=self.actor, space=space, webhook_pk=webhook_pk
        )
        deliveries = webhooks.webhook_deliveries(
            actor=self.actor, space=space, webhook=webhook
        )
        context = {
            "space": space,
            "webhook": webhook,
            "deliveries": deliveries[:DELIVERIES_SHOWN],
            "dead": deliveries.filter(state=OutboxState.DEAD).count(),
            "crumbs": _crumbs(
                space, ("Webhooks", webhooks_url(space)), (webhook.name, None)
            ),
        }
        return render(request, "web/space/webhook.html", context)

    def post(self, request, team_slug, slug, webhook_pk):
        space = self.get_space(permissions.MANAGE)
        webhook = webhooks.webhook_get(
            actor=self.actor, space=space, webhook_pk=webhook_pk
        )
        action = request.POST.get("action")
        if action not in self.ACTIONS:
            messages.error(request, "Choose pause, resume, retry or delete.")
            return redirect(webhook_url(space, webhook))
        scope = {"actor": self.actor, "space": space, "webhook": webhook}
        if action == "delete":
            webhooks.webhook_delete(**scope)
            messages.success(request, f"Webhook {webhook.name} deleted.")
            return redirect(webhooks_url(space))
        if action == "retry":
            count = webhooks.webhook_retry(**scope)
            messages.success(request, f"{count} failed deliveries sent again.")
        else:
            webhooks.webhook_update(**scope, enabled=action == "resume")
            done = "resumed" if action == "resume" else "paused"
            messages.success(request, f"Webhook {webhook.name} {done}.")
        return redirect(webhook_url(space, webhook))
