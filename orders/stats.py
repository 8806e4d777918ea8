"""Figures for the operator dashboard: plain functions returning dicts.

Every figure is computed by a constant number of aggregate queries, whatever the number of
orders: no Python loop ever walks order rows. The shop's figures cover buyers' orders (receive,
rental, send); fund orders are the operator's own top-ups and are counted apart.
"""

import math
import time
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Aggregate, Count, DurationField, ExpressionWrapper, F, Max, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from .models import PAID_STATUSES, Kind, Order, RefundReason, Status

REFERRAL_SHARE_PERCENT = 10
UPSTREAM_UP_CACHE_KEY = "admin:sms4sats-up"
UPSTREAM_UP_CACHE_SECONDS = 30
UPSTREAM_CHECK_TIMEOUT = 3.0
PERCENTILES = (0.5, 0.9)


def price_sats():
    """What an order costs: the invoice's amount, or the quote before the invoice exists."""
    return Coalesce(F("invoice_sats"), F("quoted_sats"))


def to_code_duration():
    """Time from payment to code, as a database expression (NULL where it does not apply)."""
    return ExpressionWrapper(F("completed_at") - F("paid_at"), output_field=DurationField())


def shop_orders(since=None) -> QuerySet:
    """Buyers' orders (no fund orders), created at or after ``since`` if given."""
    qs = Order.objects.exclude(kind=Kind.FUND)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    return qs.order_by()


def paid_q():
    return Q(paid_at__isnull=False) | Q(status__in=PAID_STATUSES)


# --- Orders by status, funnel, volume ------------------------------------------------------------


def status_counts(since=None) -> dict:
    """{"counts": {status: n} in lifecycle order (zeros included), "labels": {status: label}, "total": n}."""
    rows = shop_orders(since).values("status").annotate(n=Count("pk"))
    found = {row["status"]: row["n"] for row in rows}
    counts = {status.value: found.get(status.value, 0) for status in Status}
    return {"counts": counts, "labels": {s.value: s.label for s in Status}, "total": sum(found.values())}


def _rate(part, whole):
    return None if not whole else part / whole


def funnel(since=None) -> dict:
    """Created → paid → completed, the completed volume and the referral earned: one query."""
    figures = shop_orders(since).aggregate(
        created=Count("pk"),
        paid=Count("pk", filter=paid_q()),
        completed=Count("pk", filter=Q(status=Status.COMPLETED)),
        volume=Sum(price_sats(), filter=Q(status=Status.COMPLETED)),
    )
    volume = figures["volume"] or 0
    ref = settings.SMS4SATS_REF
    return {
        "created": figures["created"],
        "paid": figures["paid"],
        "completed": figures["completed"],
        "paid_rate": _rate(figures["paid"], figures["created"]),
        "completed_rate": _rate(figures["completed"], figures["paid"]),
        "overall_rate": _rate(figures["completed"], figures["created"]),
        "completed_volume_sats": volume,
        "referral_address": ref,
        "referral_sats": volume * REFERRAL_SHARE_PERCENT // 100 if ref else None,
        "referral_percent": REFERRAL_SHARE_PERCENT,
    }


def fund_summary(since=None) -> dict:
    """The operator's own top-ups: how many were credited and for how much."""
    qs = Order.objects.filter(kind=Kind.FUND).order_by()
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    figures = qs.aggregate(
        orders=Count("pk"),
        credited=Count("pk", filter=Q(status=Status.COMPLETED)),
        credited_sats=Sum(price_sats(), filter=Q(status=Status.COMPLETED)),
    )
    figures["credited_sats"] = figures["credited_sats"] or 0
    return figures


# --- Orders per day ------------------------------------------------------------------------------


def orders_per_day(days=30, now=None) -> dict:
    """Orders created per UTC day over the last ``days`` days (today included), zeros filled in.

    {"days": [{"day": date, "count": n}, ...] oldest first, "total": n, "max": n}
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    rows = (
        shop_orders()
        .filter(created_at__gte=start)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(n=Count("pk"))
        .order_by("day")
    )
    found = {_as_date(row["day"]): row["n"] for row in rows}
    series = [{"day": first + timedelta(days=i), "count": found.get(first + timedelta(days=i), 0)} for i in range(days)]
    return {
        "days": series,
        "total": sum(point["count"] for point in series),
        "max": max((point["count"] for point in series), default=0),
    }


def _as_date(value):
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):  # some SQLite builds hand back text
        return date.fromisoformat(value[:10])
    return value


# --- Time from payment to code -------------------------------------------------------------------


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)``."""

    function = "percentile_cont"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, fraction, **extra):
        fraction = float(fraction)
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be within [0, 1]")
        super().__init__(expression, fraction=repr(fraction), **extra)


def to_code_orders(since=None) -> QuerySet:
    """Number orders that got their code, with a payment time: the population of the percentiles."""
    return shop_orders(since).filter(
        kind__in=(Kind.RECEIVE, Kind.RENTAL),
        status=Status.COMPLETED,
        paid_at__isnull=False,
        completed_at__isnull=False,
    )


def time_to_code(since=None, percentiles=PERCENTILES) -> dict:
    """Median and 90th percentile (and any others asked) of the time from payment to code, in seconds.

    Continuous percentiles (linear interpolation between the two nearest ranks, like
    ``percentile_cont``). PostgreSQL computes them in one query; elsewhere one COUNT and one
    ``ORDER BY … LIMIT 2 OFFSET k`` query per percentile.
    {"count": n, "p50": seconds|None, "p90": seconds|None, ...}
    """
    qs = to_code_orders(since)
    result = {"count": 0}
    keys = {p: f"p{round(p * 100):d}" for p in percentiles}
    if connection.vendor == "postgresql":
        figures = qs.aggregate(
            count=Count("pk"),
            **{key: PercentileCont(to_code_duration(), p, output_field=DurationField()) for p, key in keys.items()},
        )
        result["count"] = figures["count"]
        for key in keys.values():
            result[key] = None if figures[key] is None else figures[key].total_seconds()
        return result

    count = qs.count()
    result["count"] = count
    ordered = qs.annotate(to_code=to_code_duration()).order_by("to_code").values_list("to_code", flat=True)
    for p, key in keys.items():
        if not count:
            result[key] = None
            continue
        position = p * (count - 1)
        low = math.floor(position)
        pair = [value.total_seconds() for value in ordered[low : low + 2]]
        if len(pair) == 1 or position == low:
            result[key] = pair[0]
        else:
            result[key] = pair[0] + (pair[1] - pair[0]) * (position - low)
    return result


# --- Top countries and services, refunds ---------------------------------------------------------


def top_countries(since=None, limit=10) -> list[dict]:
    """[{"country_code", "country_name", "orders", "completed", "volume_sats"}], most orders first."""
    rows = (
        shop_orders(since)
        .exclude(country_code=None)
        .values("country_code")
        .annotate(
            country_name=Max("country_name"),
            orders=Count("pk"),
            completed=Count("pk", filter=Q(status=Status.COMPLETED)),
            volume_sats=Coalesce(Sum(price_sats(), filter=Q(status=Status.COMPLETED)), 0),
        )
        .order_by("-orders", "country_code")[:limit]
    )
    return list(rows)


def top_services(since=None, limit=10) -> list[dict]:
    """[{"service_code", "service_name", "orders", "completed", "volume_sats"}], most orders first."""
    rows = (
        shop_orders(since)
        .exclude(service_code="")
        .values("service_code")
        .annotate(
            service_name=Max("service_name"),
            orders=Count("pk"),
            completed=Count("pk", filter=Q(status=Status.COMPLETED)),
            volume_sats=Coalesce(Sum(price_sats(), filter=Q(status=Status.COMPLETED)), 0),
        )
        .order_by("-orders", "service_code")[:limit]
    )
    return list(rows)


def refunds_by_reason(since=None) -> dict:
    """{"reasons": [{"reason", "label", "orders", "sats"}] most first, "total": n, "total_sats": n}."""
    rows = (
        shop_orders(since)
        .filter(status=Status.REFUNDED)
        .values("refund_reason")
        .annotate(orders=Count("pk"), sats=Coalesce(Sum(price_sats()), 0))
        .order_by("-orders", "refund_reason")
    )
    labels = dict(RefundReason.choices)
    reasons = [
        {
            "reason": row["refund_reason"],
            "label": labels.get(row["refund_reason"], "No reason recorded"),
            "orders": row["orders"],
            "sats": row["sats"],
        }
        for row in rows
    ]
    return {
        "reasons": reasons,
        "total": sum(r["orders"] for r in reasons),
        "total_sats": sum(r["sats"] for r in reasons),
    }


# --- Upstream at a glance ------------------------------------------------------------------------


def upstream_up(force=False) -> dict:
    """Whether sms4sats answered its base URL lately: {"up": bool, "checked_at": epoch seconds, "cached": bool}.

    The answer is cached for ~30 s and the check has a short timeout, so a page showing it never
    waits long.
    """
    if not force:
        cached = cache.get(UPSTREAM_UP_CACHE_KEY)
        if cached is not None:
            return {**cached, "cached": True}
    from .sms4sats import Sms4satsClient

    with Sms4satsClient(timeout=UPSTREAM_CHECK_TIMEOUT) as client:
        up = client.is_up()
    answer = {"up": up, "checked_at": time.time()}
    cache.set(UPSTREAM_UP_CACHE_KEY, answer, timeout=UPSTREAM_UP_CACHE_SECONDS)
    return {**answer, "cached": False}


def workers_state() -> dict:
    """{"heartbeat_age": seconds|None, "alive": bool, "max_age": seconds}."""
    from sms4sats_site.health import heartbeat_age

    try:
        age = heartbeat_age()
    except Exception:  # Redis down: no heartbeat to read
        age = None
    return {"heartbeat_age": age, "alive": age is not None and age <= settings.HEARTBEAT_MAX_AGE,
            "max_age": settings.HEARTBEAT_MAX_AGE}


def due_for_polling(now=None) -> int:
    """How many orders the poller should look at now (``next_poll_at <= now``; partial index)."""
    return Order.objects.filter(next_poll_at__lte=now or timezone.now()).order_by().count()


def upstream_state(now=None, check_upstream=True) -> dict:
    """sms4sats answered lately, the workers' heartbeat, the orders due for polling."""
    return {
        "sms4sats": upstream_up() if check_upstream else None,
        "workers": workers_state(),
        "due_for_polling": due_for_polling(now),
    }


# --- Everything the dashboard shows --------------------------------------------------------------


def dashboard(since=None, now=None, check_upstream=True) -> dict:
    """All the dashboard's figures (a bounded number of queries)."""
    return {
        "since": since,
        "status": status_counts(since),
        "funnel": funnel(since),
        "fund": fund_summary(since),
        "per_day": orders_per_day(30, now=now),
        "to_code": time_to_code(since),
        "top_countries": top_countries(since),
        "top_services": top_services(since),
        "refunds": refunds_by_reason(since),
        "upstream": upstream_state(now, check_upstream=check_upstream),
    }
