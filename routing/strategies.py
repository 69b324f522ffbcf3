"""Read strategies: which backends serve a search, behind one interface.

Each strategy is a class registered in :data:`STRATEGIES` by name.
``plan`` says, without calling anything, which backends would be tried and
why (the explain API shows it); ``search`` runs the plan and returns the
hits of each backend that answered. Mapping hits back to MemoryHub memories
and loading them from the canonical store happens in
:func:`routing.services.route_search`, never here.

- ``local``: the canonical store only (the default without rules).
- ``primary``: one named backend; if it fails the search fails (503).
- ``failover``: the listed backends in order, skipping open circuits.
- ``fastest``: available backends by lowest latency EWMA (unmeasured first,
  so new backends get measured), falling through on failure.
- ``fanout``: every available backend concurrently, each under the rule's
  read timeout; results merged by reciprocal rank fusion.
"""

from __future__ import annotations

import concurrent.futures
import time
from dataclasses import dataclass, field

from memoryhub.errors import Unavailable
from memoryhub.threads import ProcessPool
from routing.backends.base import BackendError, Hit, SearchScope
from routing.breaker import breaker_for
from routing.calls import backend_call, closing_connections

RRF_K = 60
FANOUT_POOL = ProcessPool(8, "routing-fanout")  # per process: made anew after a fork


@dataclass
class Step:
    """One backend in a plan: whether it is usable now, and why."""

    backend: object
    usable: bool
    reason: str


@dataclass
class Outcome:
    """What a strategy did: hits per backend that answered, and notes."""

    hits: list[tuple[object, list[Hit]]] = field(default_factory=list)
    tried: list[dict] = field(default_factory=list)

    def note(self, backend, status: str, ms: float | None = None, error: str = ""):
        """Record one backend's attempt."""
        self.tried.append(
            {
                "backend": backend.name,
                "status": status,
                "ms": None if ms is None else round(ms, 2),
                **({"error": error} if error else {}),
            }
        )


class ReadStrategy:
    """Base class: subclasses set ``name``, bounds, and may override ``order``."""

    name = ""
    min_backends = 1
    max_backends: int | None = None

    def order(self, backends: list) -> list[Step]:
        """The backends in the order to try, each marked usable or not."""
        steps = []
        for backend in backends:
            breaker = breaker_for(backend)
            if not backend.enabled:
                steps.append(Step(backend, False, "backend disabled"))
            elif not breaker.available():
                steps.append(Step(backend, False, f"circuit {breaker.state}"))
            else:
                steps.append(Step(backend, True, f"circuit {breaker.state}"))
        return steps

    def plan(self, backends: list) -> list[Step]:
        """What ``search`` would do (explain)."""
        return self.order(backends)

    def search(
        self,
        backends: list,
        *,
        query: str,
        scope: SearchScope,
        top_k: int,
        timeout: float,
    ) -> Outcome:
        """Try usable backends in order until one answers."""
        outcome = Outcome()
        for step in self.order(backends):
            if not step.usable:
                outcome.note(step.backend, "skipped", error=step.reason)
            elif _search_one(
                outcome, step.backend, query=query, scope=scope, top_k=top_k
            ):
                return outcome
        raise Unavailable(self.unavailable_message(outcome))

    def unavailable_message(self, outcome: Outcome) -> str:
        """A 503 message naming what was tried."""
        tried = ", ".join(f"{t['backend']} ({t['status']})" for t in outcome.tried)
        return f"no backend could serve the search ({self.name}: {tried}); retry later"


class LocalStrategy(ReadStrategy):
    """The canonical store only."""

    name = "local"
    min_backends = 0
    max_backends = 0


class PrimaryStrategy(ReadStrategy):
    """Exactly one backend; its failure is the search's failure."""

    name = "primary"
    max_backends = 1


class FailoverStrategy(ReadStrategy):
    """The listed order; open circuits are skipped."""

    name = "failover"


class FastestStrategy(ReadStrategy):
    """Lowest latency EWMA first among available backends."""

    name = "fastest"

    def order(self, backends: list) -> list[Step]:
        """Usable backends by latency (unmeasured first), then unusable ones."""
        steps = super().order(backends)

        def latency(step: Step) -> float:
            value = breaker_for(step.backend).latency_ms
            return -1.0 if value is None else value

        usable = sorted((s for s in steps if s.usable), key=latency)
        for step in usable:
            value = breaker_for(step.backend).latency_ms
            step.reason = (
                "not measured yet" if value is None else f"latency EWMA {value:.1f} ms"
            )
        return usable + [s for s in steps if not s.usable]


class FanoutStrategy(ReadStrategy):
    """Every usable backend at once; fused by reciprocal rank fusion."""

    name = "fanout"

    def search(
        self,
        backends: list,
        *,
        query: str,
        scope: SearchScope,
        top_k: int,
        timeout: float,
    ) -> Outcome:
        """Query concurrently; a backend slower than ``timeout`` is left out."""
        outcome = Outcome()
        started = time.perf_counter()
        inline, futures = [], {}
        for step in self.order(backends):
            if not step.usable:
                outcome.note(step.backend, "skipped", error=step.reason)
            elif getattr(step.backend, "kind", "") == "local":
                inline.append(step.backend)  # uses this thread's DB connection
            else:
                futures[
                    FANOUT_POOL.submit(
                        closing_connections, _timed, step.backend, query, scope, top_k
                    )
                ] = step.backend
        for backend in inline:
            _search_one(outcome, backend, query=query, scope=scope, top_k=top_k)
        remaining = max(0.0, timeout - (time.perf_counter() - started))
        done, pending = concurrent.futures.wait(futures, timeout=remaining)
        for future in done:
            backend = futures[future]
            try:
                hits, ms = future.result()
            except BackendError as exc:
                outcome.note(backend, "failed", error=type(exc).__name__)
                continue
            if ms > timeout * 1000:  # answered, but after its own deadline
                outcome.note(backend, "timeout", ms)
                continue
            outcome.note(backend, "ok", ms)
            outcome.hits.append((backend, hits))
        for future in pending:
            future.cancel()
            outcome.note(futures[future], "timeout", timeout * 1000)
        if not outcome.hits:
            raise Unavailable(self.unavailable_message(outcome))
        return outcome


def _search_one(
    outcome: Outcome, backend, *, query: str, scope: SearchScope, top_k: int
) -> bool:
    """Search one backend in this thread, noting how it went; whether it answered."""
    started = time.perf_counter()
    try:
        hits = backend_call(backend, "search", query, scope=scope, top_k=top_k)
    except BackendError as exc:
        outcome.note(backend, "failed", _ms(started), type(exc).__name__)
        return False
    outcome.note(backend, "ok", _ms(started))
    outcome.hits.append((backend, hits))
    return True


def _timed(backend, query, scope, top_k):
    started = time.perf_counter()
    hits = backend_call(backend, "search", query, scope=scope, top_k=top_k)
    return hits, _ms(started)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def rrf_merge(ranked_lists: list[list[str]]) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of id lists (duplicates merged), best first."""
    scores: dict[str, float] = {}
    for ranked in ranked_lists:
        for rank, key in enumerate(dict.fromkeys(ranked)):
            scores[key] = scores.get(key, 0.0) + 1.0 / (RRF_K + rank + 1)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


STRATEGIES: dict[str, ReadStrategy] = {
    cls.name: cls()
    for cls in (
        LocalStrategy,
        PrimaryStrategy,
        FailoverStrategy,
        FastestStrategy,
        FanoutStrategy,
    )
}
