"""The webhooks' figures on /metrics, added to the engine's collector from the app's ready() (the engine imports no
side app)."""

from collections import Counter

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from orders import metrics


def webhook_gauges():
    """Outbound webhooks: deliveries by state (a growing "failed" is deliveries given up) and the endpoints whose
    deliveries keep failing (the condition the webhooks alert is about)."""
    from webhooks.delivery import failing_endpoints
    from webhooks.models import Delivery

    found = Counter(dict(Delivery.objects.order_by().values_list("state").annotate(n=Count("pk"))))
    deliveries = GaugeMetricFamily(
        f"{metrics.PREFIX}_webhook_deliveries",
        "Outbound webhook deliveries kept in the log, by state.",
        labels=("state",),
    )
    for state in Delivery.State:
        deliveries.add_metric((state.value,), found[state.value])
    yield deliveries
    yield GaugeMetricFamily(
        f"{metrics.PREFIX}_webhook_endpoints_failing",
        "Active webhook endpoints whose deliveries keep failing or were given up, with no success since.",
        value=len(failing_endpoints()),
    )
