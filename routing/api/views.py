"""Routing API: operators manage backends, rules and the outbox; teams read.

Everything under ``/api/v1/routing/`` except ``spaces/<slug>/backends/`` is
for operators (staff users): anyone else gets a 403 (the resource kinds are
no secret; their contents are). Teams see, read-only, which backends serve
a space they can view.
"""

from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api.viewsets import OperatorViewSet
from memories.api.viewsets import SpaceViewSet
from memoryhub.errors import Forbidden, InvalidInput, NotFound
from routing import rules, selectors, services
from routing.api.serializers import (
    BackendSerializer,
    BackendWriteSerializer,
    ChangePageSerializer,
    ChangesRequestSerializer,
    ExplainSerializer,
    OutboxEntrySerializer,
    RetrySerializer,
    RuleSerializer,
    RuleWriteSerializer,
    SpaceBackendSerializer,
)
from routing.models import OutboxEntry, RoutingRule


class BackendViewSet(OperatorViewSet):
    """Backends: list, create, read, change, delete."""

    serializer_class = BackendSerializer
    lookup_field = "name"
    lookup_value_converter = "slug"

    def list(self, request):
        """Every backend with its health figures."""
        return self.paginated(
            selectors.backends_all().order_by("-id"),
            lambda page: BackendSerializer(page, many=True).data,
        )

    @extend_schema(request=BackendWriteSerializer, responses=BackendSerializer)
    def create(self, request):
        """Register a backend (secrets are sealed and never returned)."""
        body = self.body(BackendWriteSerializer)
        name, kind = body.pop("name", None), body.pop("kind", None)
        if not name or not kind:
            raise InvalidInput("name and kind are required")
        backend = services.backend_create(
            actor=self.actor, name=name, kind=kind, **body
        )
        return Response(BackendSerializer(backend).data, status=201)

    def retrieve(self, request, name):
        """One backend."""
        return Response(BackendSerializer(services.backend_get(name=name)).data)

    @extend_schema(request=BackendWriteSerializer, responses=BackendSerializer)
    def partial_update(self, request, name):
        """Change settings or secrets (a secret set to "" is removed)."""
        body = self.body(BackendWriteSerializer)
        body.pop("name", None)
        backend = services.backend_update(
            actor=self.actor, backend=services.backend_get(name=name), **body
        )
        return Response(BackendSerializer(backend).data)

    def destroy(self, request, name):
        """Remove a backend no rule uses."""
        services.backend_delete(
            actor=self.actor, backend=services.backend_get(name=name)
        )
        return Response(status=204)

    @extend_schema(
        request=ChangesRequestSerializer,
        responses={
            200: ChangePageSerializer,
            400: dict,
            503: dict,
        },
        description="What changed in the backend after a cursor, at most "
        "``limit`` changes per page; ``local`` is the canonical store. Pass "
        "the returned cursor to continue (now while ``more`` is true, or "
        "later to poll). See docs/routing.md for what each kind reports.",
    )
    @action(detail=True, methods=["post"])
    def changes(self, request, name):
        """A page of the backend's change feed."""
        body = self.body(ChangesRequestSerializer)
        return Response(
            selectors.backend_changes(
                actor=self.actor,
                backend=selectors.backend_by_name(name=name),
                cursor=body.get("cursor") or None,
                limit=body["limit"],
            )
        )


def _rule(name: str) -> RoutingRule:
    rule = RoutingRule.objects.filter(name=name).first()
    if rule is None:
        raise NotFound(f"rule {name!r} not found")
    return rule


class RuleViewSet(OperatorViewSet):
    """Routing rules: list, create, read, change, delete."""

    serializer_class = RuleSerializer
    lookup_field = "name"
    lookup_value_converter = "slug"

    def list(self, request):
        """Rules in evaluation order."""
        return self.paginated(
            RoutingRule.objects.order_by("-id"),
            lambda page: RuleSerializer(page, many=True).data,
        )

    @extend_schema(request=RuleWriteSerializer, responses=RuleSerializer)
    def create(self, request):
        """Add a rule (400 naming what is wrong: unknown backends, plaintext...)."""
        body = self.body(RuleWriteSerializer)
        name = body.pop("name", None)
        if not name:
            raise InvalidInput("name is required", field="name")
        rule = services.rule_create(actor=self.actor, name=name, **body)
        return Response(RuleSerializer(rule).data, status=201)

    def retrieve(self, request, name):
        """One rule."""
        return Response(RuleSerializer(_rule(name)).data)

    @extend_schema(request=RuleWriteSerializer, responses=RuleSerializer)
    def partial_update(self, request, name):
        """Change a rule (validated again as a whole)."""
        body = self.body(RuleWriteSerializer)
        body.pop("name", None)
        rule = services.rule_update(actor=self.actor, rule=_rule(name), **body)
        return Response(RuleSerializer(rule).data)

    def destroy(self, request, name):
        """Remove a rule."""
        services.rule_delete(actor=self.actor, rule=_rule(name))
        return Response(status=204)


class ExplainViewSet(OperatorViewSet):
    """Explain how an operation would be routed."""

    @extend_schema(request=ExplainSerializer, responses=dict)
    def create(self, request):
        """Which rule matches, which backends would be used and why."""
        body = self.body(ExplainSerializer)
        op = rules.Operation(
            op=body["operation"],
            space=body["space"],
            user_id=body["user_id"],
            agent_id=body["agent_id"],
            app_id=body["app_id"],
            run_id=body["run_id"],
            categories=tuple(body.get("categories") or ()),
            metadata=body.get("metadata") or {},
        )
        return Response(selectors.route_explain(op=op))


class OutboxViewSet(OperatorViewSet):
    """The outbox: list (filter by ``state``) and retry dead letters."""

    serializer_class = OutboxEntrySerializer

    def list(self, request):
        """Entries, newest first; ``?state=dead`` lists the dead letters."""
        state = request.query_params.get("state")
        entries = OutboxEntry.objects.select_related("backend").order_by("-id")
        if state:
            entries = entries.filter(state=state)
        return self.paginated(
            entries, lambda page: OutboxEntrySerializer(page, many=True).data
        )

    @extend_schema(request=RetrySerializer, responses=dict)
    @action(detail=False, methods=["post"])
    def retry(self, request):
        """Put entries back to pending and deliver them now."""
        body = self.body(RetrySerializer)
        return Response({"retried": services.outbox_retry(entry_ids=body["ids"])})


class SpaceBackendsViewSet(SpaceViewSet):
    """Read-only for teams: which backends serve a space."""

    serializer_class = SpaceBackendSerializer

    # A list action: documented as a page of backends (all of them, in one).
    @extend_schema(responses=SpaceBackendSerializer(many=True))
    def list(self, request, slug):
        """Backends the rules route this space's operations to."""
        if not request.user.is_authenticated and request.auth is None:
            raise Forbidden("authentication required")
        return Response(
            {"results": selectors.backends_serving(actor=self.actor, space=self.space)}
        )
