"""Figures for the operator dashboard: plain functions returning dicts.

Every figure is computed by a constant number of aggregate queries, whatever the number of
orders: no Python loop ever walks order rows. The shop's figures cover buyers' orders (receive,
rental, send); fund orders are the operator's own top-ups and are counted apart.

Money is counted apart by who paid it (``PAID_WITH``): buyers, through their invoice, and the operator, from the
prepaid balance (replacements, own use). Only what buyers paid is income, and only it earns the referral
(docs/sms4sats-api.md §3.10).
"""

import math
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import (
    Aggregate,
    BigIntegerField,
    Count,
    DateField,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Max,
    Q,
    QuerySet,
    Sum,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber, TruncDate
from django.utils import timezone

from orders import process_health
from orders.models import CHARGED_STATUSES, PAID_STATUSES, TERMINAL_STATUSES, Kind, Order, RefundReason, Status
from orders.sms4sats import upstream_health
from shopsettings import runtime

REFERRAL_SHARE_PERCENT = 10
PERCENTILES = (0.5, 0.9)


def price_sats():
    """What an order costs: the invoice's amount, or the quote before the invoice exists."""
    return Coalesce(F("invoice_sats"), F("quoted_sats"))


def to_code_duration():
    """Time from payment to code, as a database expression (NULL where it does not apply)."""
    return ExpressionWrapper(F("completed_at") - F("paid_at"), output_field=DurationField())


class SqliteSecondsBetween(Func):
    """Seconds from the second datetime to the first, in SQLite's own C functions (Django's generic
    datetime arithmetic calls a Python function per row there)."""

    template = "((julianday(%(expressions)s)) * 86400.0)"
    arg_joiner = ") - julianday("
    arity = 2
    output_field = FloatField()


class SqliteUtcDay(Func):
    """The UTC day of a datetime column on SQLite, which stores it as 'YYYY-MM-DD HH:MM:SS' UTC text:
    its first ten characters (native, index-only; TruncDate calls Python per row there)."""

    template = "substr(%(expressions)s, 1, 10)"
    output_field = DateField()


def utc_day(field):
    """The UTC date of a datetime column, computed natively on each backend."""
    if connection.vendor == "sqlite":
        return SqliteUtcDay(F(field))
    return TruncDate(field, tzinfo=UTC)


def shop_orders(since=None) -> QuerySet:
    """Buyers' orders (no fund orders), created at or after ``since`` if given."""
    qs = Order.objects.storefront()
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    return qs.order_by()


def paid_q():
    return Q(paid_at__isnull=False) | Q(status__in=PAID_STATUSES)


# Who paid an order: its buyer, through the invoice, or the operator, from the prepaid balance ("immediate").
PAID_WITH = {"invoice": Q(paid_from_balance=False), "balance": Q(paid_from_balance=True)}
PAID_WITH_LABELS = {"invoice": "the buyer's invoice", "balance": "the prepaid balance"}


def paid_with(order):
    """ "invoice" or "balance": the key of PAID_WITH for one order."""
    return "balance" if order.paid_from_balance else "invoice"


def referral_sats():
    """The referral one order earns, in whole sats (each order's share rounded down, so the CSV's rows add up to the
    dashboard's figure), as a database expression; summed only over what earns it (``earns_referral_q``)."""
    return ExpressionWrapper(price_sats() * REFERRAL_SHARE_PERCENT / 100, output_field=BigIntegerField())


def earns_referral_q():
    """Orders whose referral sms4sats pays: charged, and paid by a buyer. Orders paid from the balance earn none:
    [INFERRED] in docs/sms4sats-api.md §3.10 (the docs do not say; the shop never overstates income)."""
    return charged_q() & PAID_WITH["invoice"]


def referral_if_set(sats):
    """The referral figure to show: None without SMS4SATS_REF (nothing is paid to no address)."""
    return (sats or 0) if runtime.get("SMS4SATS_REF") else None


# --- Orders by status, funnel, volume ------------------------------------------------------------


def _order_figures(since):
    """Counts by status, the funnel and the completed volume in one pass over the orders."""
    return shop_orders(since).aggregate(
        created=Count("pk"),
        paid=Count("pk", filter=paid_q()),
        **{f"paid_{key}": Count("pk", filter=paid_q() & q) for key, q in PAID_WITH.items()},
        # What sms4sats charged (rentals too), by who paid it.
        **{f"volume_{key}": Sum(price_sats(), filter=charged_q() & q) for key, q in PAID_WITH.items()},
        referral=Sum(referral_sats(), filter=earns_referral_q()),
        **{f"status_{status.value}": Count("pk", filter=Q(status=status)) for status in Status},
    )


def status_counts(since=None, figures=None) -> dict:
    """{"counts": {status: n} in lifecycle order (zeros included), "labels": {status: label}, "total": n}."""
    figures = figures or _order_figures(since)
    counts = {status.value: figures[f"status_{status.value}"] for status in Status}
    return {"counts": counts, "labels": {s.value: s.label for s in Status}, "total": figures["created"]}


def _rate(part, whole):
    return None if not whole else part / whole


def funnel(since=None, figures=None) -> dict:
    """Created → paid → completed, the sats charged (paid by buyers; paid from the balance) and the referral earned
    on what buyers paid: one query."""
    figures = figures or _order_figures(since)
    figures["completed"] = figures[f"status_{Status.COMPLETED.value}"]
    buyers_sats = figures["volume_invoice"] or 0
    return {
        "created": figures["created"],
        "paid": figures["paid"],
        "paid_by_buyers": figures["paid_invoice"],
        "paid_from_balance": figures["paid_balance"],
        "completed": figures["completed"],
        "paid_rate": _rate(figures["paid"], figures["created"]),
        "completed_rate": _rate(figures["completed"], figures["paid"]),
        "overall_rate": _rate(figures["completed"], figures["created"]),
        "buyers_sats": buyers_sats,
        "balance_sats": figures["volume_balance"] or 0,
        "referral_address": runtime.get("SMS4SATS_REF"),
        "referral_sats": referral_if_set(figures["referral"]),
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


def _per_day(queryset, field, days, now, **value):
    """[(date, value)] for each UTC day of ``field`` over the last ``days`` days (today included), oldest first,
    zeros filled in; ``value``: one aggregate, by name (several: a dict of them per day). One query."""
    now = now or timezone.now()
    first = now.astimezone(UTC).date() - timedelta(days=days - 1)
    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    rows = (
        queryset.filter(**{f"{field}__gte": start})
        .annotate(day=utc_day(field))
        .values("day")
        .annotate(**value)
        .order_by("day")
    )
    names = list(value)
    zero = 0 if len(names) == 1 else dict.fromkeys(names, 0)

    def one(row):
        return row[names[0]] or 0 if len(names) == 1 else {name: row[name] or 0 for name in names}

    found = {_as_date(row["day"]): one(row) for row in rows}
    return [(first + timedelta(days=i), found.get(first + timedelta(days=i), zero)) for i in range(days)]


def orders_per_day(days=30, now=None) -> dict:
    """Orders created per UTC day over the last ``days`` days (today included), zeros filled in.

    {"days": [{"day": date, "count": n}, ...] oldest first, "total": n, "max": n}
    """
    series = [{"day": day, "count": n} for day, n in _per_day(shop_orders(), "created_at", days, now, n=Count("pk"))]
    return {
        "days": series,
        "total": sum(point["count"] for point in series),
        "max": max((point["count"] for point in series), default=0),
    }


def charged_q():
    """Orders whose buyer was charged, on sms4sats' word (CHARGED_STATUSES: a code or a sent SMS, or a rental's
    number given), top-ups excluded (no buyer)."""
    return Q(status__in=CHARGED_STATUSES) & ~Q(kind=Kind.FUND)


def sats_per_day(days=30, now=None) -> dict:
    """Sats charged per UTC day (by the day of the charge: the code, the sent SMS or a rental's number) over the
    last ``days`` days, zeros filled in: paid by buyers (``sats``) and paid from the prepaid balance
    (``balance_sats``), and the referral earned on what buyers paid (``earns_referral_q``). One query.

    {"days": [{"day": date, "sats": n, "balance_sats": n, "referral": n}, ...] oldest first, "total": n,
    "balance_total": n, "referral_total": n, "referral_address": address or None}
    """
    charged = shop_orders().filter(charged_q()).annotate(charged_at=Coalesce("completed_at", "number_at"))
    sums = {key: Sum(price_sats(), filter=q) for key, q in PAID_WITH.items()}
    sums["referral"] = Sum(referral_sats(), filter=earns_referral_q())
    series = [
        {
            "day": day,
            "sats": sums["invoice"],
            "balance_sats": sums["balance"],
            "referral": sums["referral"] if runtime.get("SMS4SATS_REF") else 0,
        }
        for day, sums in _per_day(charged, "charged_at", days, now, **sums)
    ]
    return {
        "days": series,
        "total": sum(point["sats"] for point in series),
        "balance_total": sum(point["balance_sats"] for point in series),
        "referral_total": sum(point["referral"] for point in series),
        "referral_address": runtime.get("SMS4SATS_REF"),
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
    ``percentile_cont``). PostgreSQL computes them in one query; elsewhere a COUNT, then one query
    that numbers the sorted values (``ROW_NUMBER() OVER (ORDER BY …)``) and keeps the ranks needed.
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
            result[key] = None if figures[key] is None else round(figures[key].total_seconds(), 3)
        return result

    if connection.vendor == "sqlite":
        seconds = SqliteSecondsBetween(F("completed_at"), F("paid_at"))
    else:
        seconds = to_code_duration()
    count = qs.count()
    result["count"] = count
    if not count:
        return {**result, **{key: None for key in keys.values()}}
    # The rows at the ranks each percentile needs, in one sorted pass (a window over the ordered values).
    positions = {p: p * (count - 1) for p in keys}
    ranks = {r for position in positions.values() for r in (math.floor(position), math.floor(position) + 1)}
    ranked = (
        qs.annotate(to_code=seconds, rank=Window(RowNumber(), order_by=F("to_code").asc()))
        .filter(rank__in=[r + 1 for r in ranks if r < count])  # ROW_NUMBER() is 1-based
        .values_list("rank", "to_code")
    )
    at_rank = {rank - 1: _seconds(value) for rank, value in ranked}
    for p, key in keys.items():
        low = math.floor(positions[p])
        value = at_rank[low]
        if positions[p] > low:
            value += (at_rank[low + 1] - value) * (positions[p] - low)
        result[key] = round(value, 3)
    return result


def _seconds(value):
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# --- Top countries and services, refunds ---------------------------------------------------------


def top_by(code_field, name_field, empty, since=None, limit=10) -> list[dict]:
    """[{code_field, name_field, "orders", "completed", "volume_sats", "balance_sats"}], most orders first;
    ``volume_sats``: charged and paid by buyers, ``balance_sats``: charged and paid from the balance."""
    rows = (
        shop_orders(since)
        .exclude(**{code_field: empty})
        .values(code_field)
        .annotate(
            **{name_field: Max(name_field)},
            orders=Count("pk"),
            completed=Count("pk", filter=Q(status=Status.COMPLETED)),
            # As the cards: rentals too, by who paid.
            volume_sats=Coalesce(Sum(price_sats(), filter=charged_q() & PAID_WITH["invoice"]), 0),
            balance_sats=Coalesce(Sum(price_sats(), filter=charged_q() & PAID_WITH["balance"]), 0),
        )
        .order_by("-orders", code_field)[:limit]
    )
    return list(rows)


def top_countries(since=None, limit=10) -> list[dict]:
    return top_by("country_code", "country_name", None, since, limit)


def top_services(since=None, limit=10) -> list[dict]:
    return top_by("service_code", "service_name", "", since, limit)


def refunds_by_reason(since=None) -> dict:
    """{"reasons": [{"reason", "label", "orders", "sats", "balance_sats"}] most first, "total": n, "total_sats": n,
    "total_balance_sats": n}; ``sats``: returned to buyers, ``balance_sats``: returned to the prepaid balance."""
    rows = (
        shop_orders(since)
        .filter(status=Status.REFUNDED)
        .values("refund_reason")
        .annotate(
            orders=Count("pk"),
            sats=Coalesce(Sum(price_sats(), filter=PAID_WITH["invoice"]), 0),
            balance_sats=Coalesce(Sum(price_sats(), filter=PAID_WITH["balance"]), 0),
        )
        .order_by("-orders", "refund_reason")
    )
    labels = dict(RefundReason.choices)
    reasons = [
        {
            "reason": row["refund_reason"],
            "label": labels.get(row["refund_reason"], "No reason recorded"),
            "orders": row["orders"],
            "sats": row["sats"],
            "balance_sats": row["balance_sats"],
        }
        for row in rows
    ]
    return {
        "reasons": reasons,
        "total": sum(r["orders"] for r in reasons),
        "total_sats": sum(r["sats"] for r in reasons),
        "total_balance_sats": sum(r["balance_sats"] for r in reasons),
    }


# --- Upstream at a glance ------------------------------------------------------------------------


def workers_state() -> dict:
    """{"heartbeat_age": seconds|None, "alive": bool, "max_age": seconds}."""
    try:
        age = process_health.heartbeat_age()
    except Exception:  # Redis down: no heartbeat to read
        age = None
    return {
        "heartbeat_age": age,
        "alive": process_health.is_alive(age),
        "max_age": settings.HEARTBEAT_MAX_AGE,
    }


def due_for_polling(now=None) -> int:
    """How many orders the poller should look at now (``next_poll_at <= now``; partial index)."""
    return Order.objects.filter(next_poll_at__lte=now or timezone.now()).order_by().count()


def engine_state() -> dict:
    """The creation lag, rentals running, and the orders the engine stopped reconciling (past the horizon
    without an answer of sms4sats) for the operator to look at."""
    live = Order.objects.exclude(status__in=TERMINAL_STATUSES)
    counts = live.aggregate(
        active_rentals=Count("pk", filter=Q(status=Status.ACTIVE)),
        abandoned=Count("pk", filter=Q(reconcile_abandoned_at__isnull=False)),
    )
    lag = process_health.creation_lag_seconds()
    return {
        "creation_lag": lag,
        "creation_lagging": process_health.is_lagging(lag),
        **counts,
    }


def upstream_state(now=None) -> dict:
    """Whether sms4sats answers (the one shared health state, orders/sms4sats/upstream_health.py: read from Redis, no
    call to sms4sats), the workers' heartbeat, the orders due for polling, the engine's view."""
    return {
        "sms4sats": upstream_health.state(),
        "workers": workers_state(),
        "due_for_polling": due_for_polling(now),
        "engine": engine_state(),
    }


# --- Everything the dashboard shows --------------------------------------------------------------


def dashboard(since=None, now=None) -> dict:
    """All the dashboard's figures (a bounded number of queries)."""
    figures = _order_figures(since)
    return {
        "since": since,
        "status": status_counts(since, figures=figures),
        "funnel": funnel(since, figures=figures),
        "fund": fund_summary(since),
        "per_day": orders_per_day(30, now=now),
        "sats_per_day": sats_per_day(30, now=now),
        "to_code": time_to_code(since),
        "top_countries": top_countries(since),
        "top_services": top_services(since),
        "refunds": refunds_by_reason(since),
        "upstream": upstream_state(now),
    }
