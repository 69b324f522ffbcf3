"""Routing services: backends, rules, explain, routed search, replication hooks.

Every surface (REST API, admin, commands, tasks) calls these. Backend and
rule changes are operator-only, validated, and bump the routing version in
the same transaction so every process reloads its rule cache. Replication
(the outbox) lives in :mod:`routing.outbox`; its entry points are
re-exported here, and the memory services call
:func:`outbox_enqueue_for` inside their write transactions.
"""

from __future__ import annotations

import contextlib
import json

from django.conf import settings
from django.db import transaction
from django.db.models import F

from accounts.actors import Actor
from memoryhub.crypto import unwrap_key, wrap_key
from memoryhub.errors import Conflict, Forbidden, InvalidInput, NotFound
from routing import rules
from routing.backends.base import BackendError
from routing.backends.registry import adapter_class
from routing.calls import backend_call
from routing.models import Backend, RoutingRule, RoutingState, WriteMode
from routing.outbox import (  # noqa: F401  (re-exported entry points)
    outbox_deliver,
    outbox_enqueue_deletes,
    outbox_enqueue_for,
    outbox_enqueue_many,
    outbox_retry,
    outbox_sweep,
)
from routing.strategies import STRATEGIES

BACKEND_FIELDS = (
    "kind",
    "enabled",
    "config",
    "allows_plaintext",
    "timeout_seconds",
    "max_retries",
)
RULE_FIELDS = (
    "priority",
    "enabled",
    "match",
    "write_backends",
    "write_mode",
    "read_strategy",
    "read_backends",
    "read_timeout_seconds",
    "description",
)


def require_operator(actor: Actor) -> None:
    """Backends and rules are for operators (:attr:`Actor.is_operator`)."""
    if not actor.is_operator:
        raise Forbidden("only operators (staff users) may manage routing")


def bump() -> None:
    """Bump the routing version: every process reloads its snapshot."""
    RoutingState.objects.get_or_create(pk=1)
    RoutingState.objects.filter(pk=1).update(version=F("version") + 1)
    # This process sees the change at once; others within CHECK_SECONDS.
    rules.invalidate()
    transaction.on_commit(rules.invalidate)


# --- backends ---------------------------------------------------------------


def _secrets_aad(backend: Backend) -> bytes:
    return f"routing-backend-secrets:{backend.pk}".encode()


def backend_secrets(backend: Backend) -> dict[str, str]:
    """The backend's decrypted secrets (only adapters use them)."""
    if not backend.secrets_sealed:
        return {}
    raw = unwrap_key(bytes(backend.secrets_sealed), _secrets_aad(backend))
    return json.loads(raw.decode())


def _clean_backend(values: dict, secrets: dict) -> None:
    cls = adapter_class(values["kind"])
    if not isinstance(values.get("config"), dict):
        raise InvalidInput("config must be a JSON object", field="config")
    if not isinstance(secrets, dict) or not all(
        isinstance(v, str) for v in secrets.values()
    ):
        raise InvalidInput("secrets must be an object of strings", field="secrets")
    problems = cls.validate_config(values["config"], secrets)
    if problems:
        raise InvalidInput("; ".join(problems), field="config")
    timeout = values.get("timeout_seconds")
    if not isinstance(timeout, int | float) or not 0 < timeout <= 120:
        raise InvalidInput(
            "timeout_seconds must be between 0 and 120", field="timeout_seconds"
        )
    retries = values.get("max_retries")
    if not isinstance(retries, int) or not 0 <= retries <= 10:
        raise InvalidInput("max_retries must be 0-10", field="max_retries")
    if values["kind"] == "local" and not values.get("allows_plaintext", True):
        values["allows_plaintext"] = True  # the canonical store is encrypted


def _create_values(name: str, kind: str, secrets: dict | None, fields: dict):
    """The checked values and secrets of a new backend (raises what is wrong)."""
    if name == rules.LOCAL or Backend.objects.filter(name=name).exists():
        raise Conflict(f"a backend called {name!r} already exists", field="name")
    values = {
        "kind": kind,
        "enabled": True,
        "config": {},
        "allows_plaintext": False,
        "timeout_seconds": settings.ROUTING_BACKEND_TIMEOUT_SECONDS,
        "max_retries": settings.ROUTING_BACKEND_MAX_RETRIES,
        **{k: v for k, v in fields.items() if k in BACKEND_FIELDS},
    }
    secrets = secrets or {}
    _clean_backend(values, secrets)
    return values, secrets


def _update_values(
    backend: Backend, secrets: dict | None, replace_secrets: bool, fields: dict
):
    """The checked values and secrets of a changed backend.

    ``secrets`` are merged into the current ones (a secret set to "" is
    removed), or replace them all with ``replace_secrets``.
    """
    values = {k: getattr(backend, k) for k in BACKEND_FIELDS}
    values.update({k: v for k, v in fields.items() if k in BACKEND_FIELDS})
    if secrets is not None and not isinstance(secrets, dict):
        raise InvalidInput("secrets must be an object of strings", field="secrets")
    current = {} if replace_secrets else backend_secrets(backend)
    new_secrets = current if secrets is None else {**current, **secrets}
    new_secrets = {k: v for k, v in new_secrets.items() if v}
    _clean_backend(values, new_secrets)
    if not values["allows_plaintext"]:
        users = _rules_using(backend.name)
        if users:
            raise Conflict(
                f"rule(s) {', '.join(users)} route content to {backend.name!r}; "
                "change them before forbidding plaintext",
                field="allows_plaintext",
            )
    return values, new_secrets


def backend_validate(
    *,
    actor: Actor,
    backend: Backend | None = None,
    name: str = "",
    secrets: dict | None = None,
    replace_secrets: bool = False,
    **fields,
) -> None:
    """Raise what creating (no ``backend``) or changing it would raise; save nothing.

    Forms call this to show problems next to their fields before saving.
    """
    require_operator(actor)
    if backend is None:
        _create_values(name, fields.pop("kind", ""), secrets, fields)
    else:
        _update_values(backend, secrets, replace_secrets, fields)


@transaction.atomic
def backend_create(
    *, actor: Actor, name: str, kind: str, secrets: dict | None = None, **fields
) -> Backend:
    """Register a backend (operators only); secrets are sealed, never shown."""
    require_operator(actor)
    values, secrets = _create_values(name, kind, secrets, fields)
    backend = Backend.objects.create(name=name, **values)
    if secrets:
        backend.secrets_sealed = wrap_key(
            json.dumps(secrets).encode(), _secrets_aad(backend)
        )
        backend.save(update_fields=["secrets_sealed"])
    bump()
    return backend


@transaction.atomic
def backend_update(
    *,
    actor: Actor,
    backend: Backend,
    secrets: dict | None = None,
    replace_secrets: bool = False,
    **fields,
) -> Backend:
    """Change a backend; refuses to take plaintext away from one rules use."""
    require_operator(actor)
    backend = Backend.objects.select_for_update().get(pk=backend.pk)
    values, new_secrets = _update_values(backend, secrets, replace_secrets, fields)
    for key, value in values.items():
        setattr(backend, key, value)
    backend.secrets_sealed = (
        wrap_key(json.dumps(new_secrets).encode(), _secrets_aad(backend))
        if new_secrets
        else None
    )
    backend.save()
    bump()
    return backend


def backend_secret_names(backend: Backend) -> list[str]:
    """Which secrets a backend has (names only: values are never shown)."""
    return sorted(backend_secrets(backend))


def _rules_using(name: str) -> list[str]:
    return [
        rule.name
        for rule in RoutingRule.objects.all()
        if name in rule.write_backends or name in rule.read_backends
    ]


@transaction.atomic
def backend_delete(*, actor: Actor, backend: Backend) -> None:
    """Remove a backend no rule uses (its outbox and external ids go too)."""
    require_operator(actor)
    users = _rules_using(backend.name)
    if users:
        raise Conflict(
            f"backend {backend.name!r} is used by rule(s) {', '.join(users)}"
        )
    backend.delete()
    bump()


def backend_get(*, name: str) -> Backend:
    """A backend by name (404 otherwise)."""
    backend = Backend.objects.filter(name=name).first()
    if backend is None:
        raise NotFound(f"backend {name!r} not found")
    return backend


# --- rules ------------------------------------------------------------------


def rule_problems(values: dict) -> list[tuple[str, str]]:
    """(field, message) for everything wrong with a rule's values."""
    problems = [("match", p) for p in rules.match_problems(values.get("match"))]
    backends = {b.name: b for b in Backend.objects.all()}
    writes = values.get("write_backends") or []
    reads = values.get("read_backends") or []
    if values.get("write_mode") not in WriteMode.values:
        problems.append(("write_mode", f"write_mode must be {WriteMode.values}"))
    strategy = STRATEGIES.get(values.get("read_strategy"))
    if strategy is None:
        problems.append(
            (
                "read_strategy",
                f"unknown read strategy {values.get('read_strategy')!r}; use "
                f"{', '.join(STRATEGIES)}",
            )
        )
    elif len(reads) < strategy.min_backends or (
        strategy.max_backends is not None and len(reads) > strategy.max_backends
    ):
        bounds = (
            f"exactly {strategy.min_backends}"
            if strategy.max_backends == strategy.min_backends
            else f"at least {strategy.min_backends}"
            + (
                f" and at most {strategy.max_backends}"
                if strategy.max_backends is not None
                else ""
            )
        )
        problems.append(
            ("read_backends", f"strategy {strategy.name!r} takes {bounds} backend(s)")
        )
    if not writes and strategy is not None and strategy.name == "local":
        problems.append(
            (
                "write_backends",
                "the rule routes nothing: name write backends or a read strategy "
                "other than local",
            )
        )
    for field, names in (("write_backends", writes), ("read_backends", reads)):
        if len(set(names)) != len(names):
            problems.append((field, f"{field} lists a backend twice"))
        for name in names:
            if name == rules.LOCAL:
                if field == "write_backends":
                    problems.append(
                        (field, "the local canonical copy is always written")
                    )
                continue
            backend = backends.get(name)
            if backend is None:
                problems.append((field, f"unknown backend {name!r}"))
            elif backend.kind != "local" and not backend.allows_plaintext:
                problems.append(
                    (
                        field,
                        f"backend {name!r} may not receive plaintext "
                        "(allows_plaintext is off), so no content may be routed to it",
                    )
                )
    timeout = values.get("read_timeout_seconds")
    if not isinstance(timeout, int | float) or not 0 < timeout <= 60:
        problems.append(("read_timeout_seconds", "must be between 0 and 60"))
    return problems


def _save_rule(rule: RoutingRule, values: dict) -> RoutingRule:
    problems = rule_problems(values)
    if problems:
        field, message = problems[0]
        raise InvalidInput(
            "; ".join(m for _, m in problems), field=field if message else None
        )
    for key, value in values.items():
        setattr(rule, key, value)
    rule.save()
    bump()
    return rule


@transaction.atomic
def rule_create(*, actor: Actor, name: str, **fields) -> RoutingRule:
    """Add a validated routing rule (operators only)."""
    require_operator(actor)
    if RoutingRule.objects.filter(name=name).exists():
        raise Conflict(f"a rule called {name!r} already exists", field="name")
    values = {
        "priority": 100,
        "enabled": True,
        "match": {},
        "write_backends": [],
        "write_mode": WriteMode.OUTBOX,
        "read_strategy": "local",
        "read_backends": [],
        "read_timeout_seconds": 2.0,
        "description": "",
        **{k: v for k, v in fields.items() if k in RULE_FIELDS},
    }
    return _save_rule(RoutingRule(name=name), values)


@transaction.atomic
def rule_update(*, actor: Actor, rule: RoutingRule, **fields) -> RoutingRule:
    """Change a rule (validated again as a whole)."""
    require_operator(actor)
    values = {k: getattr(rule, k) for k in RULE_FIELDS}
    values.update({k: v for k, v in fields.items() if k in RULE_FIELDS})
    return _save_rule(rule, values)


@transaction.atomic
def rule_delete(*, actor: Actor, rule: RoutingRule) -> None:
    """Remove a rule."""
    require_operator(actor)
    rule.delete()
    bump()


def backends_probe() -> int:
    """Health-check every enabled backend through its breaker; returns the count."""

    count = 0
    for backend in Backend.objects.filter(enabled=True):
        with contextlib.suppress(BackendError):
            backend_call(backend, "health_check")
        count += 1
    return count
