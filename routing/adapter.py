"""Routing's side of the seam :mod:`memories.adapter`: replication and routed search."""

from memories.adapter import RoutingAdapter
from routing import selectors, services, webhooks


class HubRoutingAdapter(RoutingAdapter):
    """Writes go to the outbox of their rules' backends and to the space's
    webhooks; searches follow read rules."""

    def enqueue(self, *, memories, op):
        services.outbox_enqueue_many(memories=memories, op=op)
        webhooks.webhooks_enqueue(memories=memories, op=op)

    def enqueue_deletes(self, *, memory_ids, space_id):
        memory_ids = list(memory_ids)
        services.outbox_enqueue_deletes(memory_ids=memory_ids, space_id=space_id)
        webhooks.webhooks_enqueue_deletes(memory_ids=memory_ids, space_id=space_id)

    def search(self, **request):
        return selectors.search_routed(**request)
