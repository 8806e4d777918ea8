"""``GET /metrics`` for Prometheus: what orders/metrics.py counts and collects, to those allowed to read it.

Off (404) unless ``METRICS_TOKEN`` (a Bearer token) or ``METRICS_ALLOWED_IPS`` is set; with both, a scrape needs
both. The client's address is ``client_address.client_ip``: forwarded headers count only from ``TRUSTED_PROXIES``.
"""

import hmac
import logging

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily

from orders import metrics
from shopsettings import runtime
from sms4sats_site.client_address import client_ip, in_networks

log = logging.getLogger(__name__)


def _bearer_ok(request):
    given = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        token.strip().encode(), runtime.get("METRICS_TOKEN").encode()
    )


@never_cache
@require_GET
def metrics_view(request):
    if not runtime.get("METRICS_TOKEN") and not settings.METRICS_ALLOWED_IPS:
        raise Http404("Metrics are off.")
    if settings.METRICS_ALLOWED_IPS and not in_networks(client_ip(request), settings.METRICS_ALLOWED_IPS):
        return HttpResponse("Not from an allowed address.\n", status=403, content_type="text/plain")
    if runtime.get("METRICS_TOKEN") and not _bearer_ok(request):
        response = HttpResponse("A valid Bearer token is required.\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    try:
        body = metrics.exposition()
    except Exception as exc:  # the database or Redis away: say so, no traceback
        log.warning("Metrics unavailable (%s)", type(exc).__name__)
        return HttpResponse(f"Metrics unavailable ({type(exc).__name__}).\n", status=503, content_type="text/plain")
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def books_gauges():
    """The books, as the dashboard counts them (stats.py, one aggregate query): sats charged on buyers'
    orders by who paid (the buyer's invoice or the prepaid balance), and the referral earned on what buyers paid."""
    from . import stats

    figures = stats.funnel()
    charged = GaugeMetricFamily(
        f"{metrics.PREFIX}_charged_sats",
        "Sats sms4sats charged on buyers' orders (codes, sent SMS, rented numbers), by who paid: invoice (the buyer, "
        "income) or balance (the operator's prepaid balance, a cost).",
        labels=("paid_with",),
    )
    charged.add_metric(("invoice",), figures["buyers_sats"])
    charged.add_metric(("balance",), figures["balance_sats"])
    yield charged
    paid = GaugeMetricFamily(
        f"{metrics.PREFIX}_orders_paid", "Buyers' orders paid, by who paid.", labels=("paid_with",)
    )
    paid.add_metric(("invoice",), figures["paid_by_buyers"])
    paid.add_metric(("balance",), figures["paid_from_balance"])
    yield paid
    if figures["referral_sats"] is not None:
        yield GaugeMetricFamily(
            f"{metrics.PREFIX}_referral_sats",
            "Referral earned: a share of what buyers paid (none on orders paid from the balance); with SMS4SATS_REF.",
            value=figures["referral_sats"],
        )
