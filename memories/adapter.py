"""The routing seam: what memory services ask of the layer above them.

``memories`` stores, searches and erases; ``routing`` (above it) copies each
write to other backends and may send a search elsewhere. The services call
:func:`routing_adapter` at those points; ``MEMORYHUB_ROUTING_ADAPTER`` names
the implementation (``routing.adapter.HubRoutingAdapter`` in the project's
settings). :class:`RoutingAdapter` itself routes nothing: every write stays in
the canonical store and every search is local.
"""

from collections.abc import Iterable, Sequence

from memoryhub.seams import resolve

LOCAL_SEARCH_INFO = {
    "rule": None,
    "strategy": "local",
    "backends": [{"backend": "local", "status": "ok"}],
}


class RoutingAdapter:
    """Routes nothing: the behaviour of a hub without the routing app."""

    def enqueue(self, *, memories: Sequence, op: str) -> None:
        """Queue ``op`` (add, update, delete) of ``memories`` for their backends.

        Called inside the write's transaction, so the queue commits with it.
        """

    def enqueue_deletes(self, *, memory_ids: Iterable, space_id: int) -> None:
        """Queue deletes of memories that are about to be erased in bulk."""

    def search(self, **request) -> tuple[list, dict] | None:
        """Results and routing info if a rule sends this search elsewhere, else None.

        ``request`` holds ``actor``, ``space``, ``query``, ``top_k``,
        ``filters``, ``queryset`` (the candidate set) and ``surface``.
        """
        return None

    def local_search_info(self) -> dict:
        """The routing info of a search the canonical store served."""
        return {**LOCAL_SEARCH_INFO, "backends": list(LOCAL_SEARCH_INFO["backends"])}


def routing_adapter() -> RoutingAdapter:
    """The configured adapter (``settings.MEMORYHUB_ROUTING_ADAPTER``)."""
    return resolve("MEMORYHUB_ROUTING_ADAPTER")()
