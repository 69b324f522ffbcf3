"""Routing rules: the match language, validation, and the per-process cache.

``RoutingRule.match`` is a JSON object; every condition it names must hold
(an empty object matches everything)::

    {"spaces": ["acme/support", "acme/*"],      # team/space slugs, globs
     "user_id": "cust-*", "agent_id": "...", "app_id": "...", "run_id": "...",
     "categories": ["billing", "travel"],        # any of them
     "metadata": {"tier": "gold", "region": "*"},  # equality; "*" = present
     "operations": ["add", "update", "delete", "search"]}

Rules are tried by ascending ``priority`` (then name); the first enabled rule
that matches decides. Compiled rules and a snapshot of the backends are
cached per process and reloaded when the ``RoutingState`` version changes
(bumped by every backend/rule change, checked at most every
``CHECK_SECONDS``; changes made in this process apply at once).
"""

from __future__ import annotations

import fnmatch
import functools
import re
import threading
import time
from dataclasses import dataclass, field

from routing.models import Backend, RoutingRule, RoutingState, Webhook

OPERATIONS = ("add", "update", "delete", "search", "get", "list")
WRITE_OPERATIONS = ("add", "update", "delete")
SUBJECT_FIELDS = ("user_id", "agent_id", "app_id", "run_id")
MATCH_KEYS = frozenset(
    {"spaces", "categories", "metadata", "operations", *SUBJECT_FIELDS}
)
LOCAL = "local"  # the reserved name of the canonical store in read lists
CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class Operation:
    """A described memory operation, as rules see it."""

    op: str
    space: str  # "team/space"
    user_id: str = ""
    agent_id: str = ""
    app_id: str = ""
    run_id: str = ""
    categories: tuple[str, ...] = ()
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CompiledRule:
    """A rule with its patterns compiled; ``reasons`` explains a match."""

    rule: RoutingRule
    spaces: tuple[re.Pattern, ...] | None
    subjects: dict[str, re.Pattern]
    categories: frozenset[str] | None
    metadata: dict
    operations: frozenset[str] | None

    def check(self, op: Operation) -> tuple[bool, list[str]]:
        """(matches, reasons): why it matched, or the first condition that failed."""
        reasons: list[str] = []
        if self.operations is not None:
            if op.op not in self.operations:
                return False, [f"operation {op.op!r} not in {sorted(self.operations)}"]
            reasons.append(f"operation {op.op!r} listed")
        if self.spaces is not None:
            if not any(p.match(op.space) for p in self.spaces):
                return False, [f"space {op.space!r} matches no pattern"]
            reasons.append(f"space {op.space!r} matches")
        for name, pattern in self.subjects.items():
            value = getattr(op, name)
            if not pattern.match(value):
                return False, [f"{name} {value!r} does not match"]
            reasons.append(f"{name} {value!r} matches")
        if self.categories is not None:
            if not self.categories & set(op.categories):
                return False, ["no listed category"]
            reasons.append("a listed category")
        for key, expected in self.metadata.items():
            if key not in op.metadata or (
                expected != "*" and op.metadata[key] != expected
            ):
                return False, [f"metadata {key!r} does not match"]
            reasons.append(f"metadata {key!r} matches")
        return True, reasons or ["matches everything"]


def _glob(pattern: str) -> re.Pattern:
    return re.compile(fnmatch.translate(pattern), re.DOTALL)


def match_problems(match) -> list[str]:
    """What is wrong with a ``match`` object (empty when valid)."""
    if not isinstance(match, dict):
        return ["match must be a JSON object"]
    problems = []
    unknown = set(match) - MATCH_KEYS
    if unknown:
        problems.append(
            f"unknown match key(s) {', '.join(sorted(unknown))}; allowed: "
            f"{', '.join(sorted(MATCH_KEYS))}"
        )
    for key in ("spaces", "categories", "operations"):
        value = match.get(key)
        if value is not None and (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v for v in value)
        ):
            problems.append(f"match.{key} must be a non-empty list of strings")
    for key in SUBJECT_FIELDS:
        if key in match and not isinstance(match[key], str):
            problems.append(f"match.{key} must be a string pattern (globs: * ?)")
    bad_ops = set(match.get("operations") or []) - set(OPERATIONS)
    if isinstance(match.get("operations"), list) and bad_ops:
        problems.append(
            f"unknown operation(s) {', '.join(sorted(bad_ops))}; "
            f"use {', '.join(OPERATIONS)}"
        )
    for pattern in match.get("spaces") or []:
        if isinstance(pattern, str) and "/" not in pattern and pattern != "*":
            problems.append(f"space pattern {pattern!r} must look like team/space")
    metadata = match.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        problems.append("match.metadata must be an object of key: value")
    return problems


def compile_rule(rule: RoutingRule) -> CompiledRule:
    """Compile one (already validated) rule."""
    match = rule.match or {}
    spaces = match.get("spaces")
    categories = match.get("categories")
    operations = match.get("operations")
    return CompiledRule(
        rule=rule,
        spaces=tuple(_glob(p) for p in spaces) if spaces else None,
        subjects={k: _glob(match[k]) for k in SUBJECT_FIELDS if k in match},
        categories=frozenset(categories) if categories else None,
        metadata=dict(match.get("metadata") or {}),
        operations=frozenset(operations) if operations else None,
    )


@dataclass
class Snapshot:
    """Compiled enabled rules and every backend by name, at one version."""

    version: int
    rules: list[CompiledRule]
    backends: dict[str, Backend]
    # space id -> [(webhook id, its events)], enabled webhooks only: a write
    # in a space without any costs no query (routing.webhooks).
    webhooks: dict[int, list[tuple[int, tuple[str, ...]]]] = field(default_factory=dict)

    @functools.cached_property
    def backends_by_id(self) -> dict[int, Backend]:
        return {backend.pk: backend for backend in self.backends.values()}


_lock = threading.Lock()
_snapshot: Snapshot | None = None
_checked_at = 0.0


def current_version() -> int:
    """The routing configuration version (0 before any change)."""
    return (
        RoutingState.objects.filter(pk=1).values_list("version", flat=True).first() or 0
    )


def snapshot() -> Snapshot:
    """The cached rules and backends (reloaded when the version moved)."""
    global _snapshot, _checked_at
    now = time.monotonic()
    cached = _snapshot
    if cached is not None and now - _checked_at < CHECK_SECONDS:
        return cached
    version = current_version()
    if cached is not None and cached.version == version:
        _checked_at = now
        return cached
    with _lock:
        rules = [
            compile_rule(rule) for rule in RoutingRule.objects.filter(enabled=True)
        ]
        backends = {b.name: b for b in Backend.objects.all()}
        webhooks: dict[int, list] = {}
        for pk, space_id, events in Webhook.objects.filter(enabled=True).values_list(
            "pk", "space_id", "events"
        ):
            webhooks.setdefault(space_id, []).append((pk, tuple(events)))
        _snapshot = Snapshot(
            version=version, rules=rules, backends=backends, webhooks=webhooks
        )
        _checked_at = now
        return _snapshot


def invalidate() -> None:
    """Forget the snapshot (this process reloads on its next call)."""
    global _snapshot
    with _lock:
        _snapshot = None


def rule_for(op: Operation) -> tuple[CompiledRule | None, list[tuple[str, str]]]:
    """The first matching rule, and why each earlier rule did not match."""
    skipped: list[tuple[str, str]] = []
    for compiled in snapshot().rules:
        matched, reasons = compiled.check(op)
        if matched:
            return compiled, skipped
        skipped.append((compiled.rule.name, reasons[0]))
    return None, skipped
