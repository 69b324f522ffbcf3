"""Matrix entries of webhooks: a space's (``/api/v1/spaces/<slug>/webhooks/``)
and mem0's (``/api/v1/webhooks/...``).

People who manage the space (its owner here) and API keys that may change
its memories manage its webhooks; viewers, members and read-only keys get a
403; whoever cannot see the space a 404. On mem0's paths only keys
authenticate, each in its own space (a project is the key's space): another
team's key manages *its* webhooks, never acme's. The signing secret appears
once, in a creation's answer, and no delivery shows content.
"""

from accounts.actors import SYSTEM
from routing import webhooks
from routing.models import Webhook
from tests.permission_matrix import key_writes, manages
from tests.permissions.registry import Case, endpoint

HOOKS = "api/v1/spaces/<slug:slug>/webhooks/"
HOOK = HOOKS + "<int:pk>/"
MEM0_PROJECT = "api/v1/webhooks/projects/<str:project_id>/"
MEM0_HOOK = "api/v1/webhooks/<str:webhook_id>/"
URL = "http://93.184.215.14/hook"  # a public address (nothing is sent)


def _slug(who: str) -> str:
    return who.replace("_", "-")


def hook(w, name: str = "acme-hook") -> Webhook:
    webhook, _ = webhooks.webhook_create(
        actor=SYSTEM, space=w.space, name=name, url=URL
    )
    return webhook


def _kept_unless_allowed(rows: dict, allowed: set):
    def check(who, response):
        assert Webhook.objects.filter(pk=rows[who].pk).exists() == (
            who not in allowed
        ), who

    return check


WRITERS = manages(writer=200)


@endpoint("GET", HOOKS, "webhook-list", WRITERS)
def webhook_list(w):
    """The space's managers and writing keys list its webhooks, no secret."""
    found = hook(w)

    def lists_it(who, response):
        if response.status_code == 200:
            assert [h["id"] for h in response.json()["results"]] == [found.pk]
            assert "secret" not in response.content.decode()

    return Case(w.space_call(), after=lists_it)


@endpoint("POST", HOOKS, "webhook-list", manages(201, writer=201))
def webhook_create(w):
    """Managers and writing keys register a webhook; its secret shows once."""

    def shows_secret(who, response):
        if response.status_code == 201:
            assert response.json()["secret"].startswith("whsec_")

    return Case(
        lambda who: w.space_call({"name": f"h-{_slug(who)}", "url": URL}),
        after=shows_secret,
    )


@endpoint("GET", HOOK, "webhook-detail", WRITERS)
def webhook_detail(w):
    """One webhook, to its managers."""
    return Case(w.space_call(pk=hook(w).pk))


@endpoint("PATCH", HOOK, "webhook-detail", WRITERS)
def webhook_patch(w):
    """Managers change a webhook."""
    return Case(w.space_call({"enabled": False}, pk=hook(w).pk))


@endpoint("DELETE", HOOK, "webhook-detail", manages(204, writer=204))
def webhook_delete(w):
    """Managers remove a webhook."""
    rows = {}

    def call(who):
        rows[who] = hook(w, f"doomed-{_slug(who)}")
        return w.space_call(pk=rows[who].pk)

    return Case(call, after=_kept_unless_allowed(rows, {"owner", "writer"}))


@endpoint("GET", HOOK + "deliveries/", "webhook-deliveries", WRITERS)
def webhook_deliveries(w):
    """Managers read a webhook's deliveries: ids and status, never content."""
    return Case(w.space_call(pk=hook(w).pk), hidden=w.no_content())


@endpoint("POST", HOOK + "retry/", "webhook-retry", WRITERS)
def webhook_retry(w):
    """Managers send dead letters again."""
    return Case(w.space_call({}, pk=hook(w).pk))


# --- mem0's paths ----------------------------------------------------------------


@endpoint(
    "GET", MEM0_PROJECT, "mem0webhooks:project-webhooks", key_writes(other_team=200)
)
def mem0_webhooks_list(w):
    """A writing key lists its project's (space's) webhooks; another team's
    key sees its own space's, never acme's."""
    found = hook(w)

    def lists(who, response):
        if response.status_code == 200:
            ids = [h["webhook_id"] for h in response.json()]
            assert ids == ([found.pk] if who == "writer" else []), who

    return Case(w.call(project_id="default"), after=lists)


@endpoint(
    "POST",
    MEM0_PROJECT,
    "mem0webhooks:project-webhooks",
    key_writes(201, other_team=201),
)
def mem0_webhooks_create(w):
    """A writing key creates a webhook in its own space."""

    def in_own_space(who, response):
        if response.status_code == 201:
            made = Webhook.objects.get(pk=response.json()["webhook_id"])
            assert made.space.team.slug == ("other" if who == "other_team" else "acme")

    return Case(
        lambda who: w.call(
            {"url": URL, "name": f"m-{_slug(who)}", "event_types": ["memory_add"]},
            project_id="default",
        ),
        after=in_own_space,
    )


@endpoint("PUT", MEM0_HOOK, "mem0webhooks:webhook", key_writes())
def mem0_webhook_update(w):
    """Only a writing key of the webhook's space changes it."""
    found = hook(w)
    return Case(w.call({"name": "renamed"}, webhook_id=str(found.pk)))


@endpoint("DELETE", MEM0_HOOK, "mem0webhooks:webhook", key_writes())
def mem0_webhook_delete(w):
    """Only a writing key of the webhook's space deletes it."""
    rows = {}

    def call(who):
        rows[who] = hook(w, f"m-doomed-{_slug(who)}")
        return w.call(webhook_id=str(rows[who].pk))

    return Case(call, after=_kept_unless_allowed(rows, {"writer"}))
