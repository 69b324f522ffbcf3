"""The memories app's gauges for ``/metrics`` (memoryhub.metrics), read at
scrape time: extractions and imports waiting or running."""

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from memories.models import ExtractionEvent, ImportJob


def collect():
    """Yield the gauge families (one query each)."""
    extractions = GaugeMetricFamily(
        "memoryhub_extractions", "Extraction events by state.", labels=["state"]
    )
    counts = dict(ExtractionEvent.objects.values_list("state").annotate(n=Count("id")))
    for state in ExtractionEvent.State.values:
        extractions.add_metric([state], counts.get(state, 0))
    yield extractions
    imports = GaugeMetricFamily(
        "memoryhub_imports", "Background imports by state.", labels=["state"]
    )
    counts = dict(ImportJob.objects.values_list("state").annotate(n=Count("id")))
    for state in ImportJob.State.values:
        imports.add_metric([state], counts.get(state, 0))
    yield imports
