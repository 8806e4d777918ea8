"""Admin pages beside the order list: the dashboard and the prepaid account (balance, fund, history).

The shop's admin site (``orders.admin_site``) serves them, each wrapped in ``site.admin_view`` (active staff
only); each view checks the order permissions.
"""

from datetime import UTC, datetime, timedelta

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from . import charts, stats
from .models import Kind, Order, Status, format_duration

FUND_MIN_SATS = 1_000
FUND_MAX_SATS = 10_000_000  # 0.1 BTC: a top-up larger than this is more likely a typo
FUND_REFRESH_SECONDS = 2

PERIODS = {
    "all": ("All time", None),
    "30d": ("Last 30 days", timedelta(days=30)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "1d": ("Last 24 hours", timedelta(days=1)),
}


def _require(request, perm):
    if not request.user.has_perm(perm):
        raise PermissionDenied


def _context(request, site, title, **extra):
    return {**site.each_context(request), "title": title, **extra}


# --- Dashboard -----------------------------------------------------------------------------------


def dashboard_view(request, site):
    _require(request, "orders.view_order")
    period = request.GET.get("period", "all")
    if period not in PERIODS:
        period = "all"
    label, span = PERIODS[period]
    since = timezone.now() - span if span else None
    figures = stats.dashboard(since=since)
    status = figures["status"]
    context = _context(
        request,
        site,
        "Dashboard",
        figures=figures,
        period=period,
        period_label=label,
        periods=[(key, name) for key, (name, _) in PERIODS.items()],
        status_rows=[(key, status["labels"][key], count) for key, count in status["counts"].items()],
        per_day_chart=charts.orders_per_day_chart(figures["per_day"]),
        funnel_chart=charts.funnel_chart(figures["funnel"]),
        order_list_url=reverse("admin:orders_order_changelist"),
        rates={key: percent(figures["funnel"][key]) for key in ("paid_rate", "completed_rate", "overall_rate")},
        p50=format_duration(figures["to_code"]["p50"]),
        p90=format_duration(figures["to_code"]["p90"]),
        heartbeat=format_duration(figures["upstream"]["workers"]["heartbeat_age"]),
        creation_lag=format_duration(figures["upstream"]["engine"]["creation_lag"]),
        engine_down_since=_clock(figures["upstream"]["engine"]["health"]["since"]),
    )
    return TemplateResponse(request, "admin/orders/dashboard.html", context)


def _clock(epoch):
    return "—" if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S UTC")


def percent(rate):
    return "—" if rate is None else f"{rate:.1%}"


# --- Prepaid account -----------------------------------------------------------------------------


class FundForm(forms.Form):
    amount = forms.IntegerField(
        label="Amount (sats)",
        min_value=FUND_MIN_SATS,
        max_value=FUND_MAX_SATS,
        help_text=f"Between {FUND_MIN_SATS:,} and {FUND_MAX_SATS:,} sats.",
        widget=forms.NumberInput(attrs={"step": 1, "inputmode": "numeric"}),
    )


def _calm(reason, key):
    text = str(reason or "no answer")
    return text.replace(key, "…") if key else text


def account_view(request, site):
    _require(request, "orders.view_order")
    key = settings.SMS4SATS_API_KEY
    context = _context(
        request,
        site,
        "Prepaid account",
        has_key=bool(key),
        fund_min=FUND_MIN_SATS,
        fund_max=FUND_MAX_SATS,
        sandbox=settings.SANDBOX,
        can_fund=request.user.has_perm("orders.change_order"),
    )
    if not key:  # nothing to ask upstream: explain how to set the key
        return TemplateResponse(request, "admin/orders/account.html", context)

    form = FundForm(request.POST or None)
    if request.method == "POST":
        _require(request, "orders.change_order")
        if form.is_valid():
            from .lifecycle import place_order

            order = place_order(kind=Kind.FUND, quoted_sats=form.cleaned_data["amount"], session_key="")
            return HttpResponseRedirect(reverse("admin:fund_order", args=[order.public_id]))

    from .sms4sats import Sms4satsError, get_client

    client = get_client()
    try:
        context["balance"] = client.balance()
    except Sms4satsError as exc:
        context["balance_error"] = _calm(exc.reason, key)
    try:
        history = client.history()
        context["history"] = sorted(history.entries, key=lambda e: e.created_at or timezone.now(), reverse=True)
        context["history_total"] = history.total_amount
    except Sms4satsError as exc:
        context["history_error"] = _calm(exc.reason, key)
    context["form"] = form
    context["fund_orders"] = Order.objects.filter(kind=Kind.FUND).order_by("-created_at")[:20]
    return TemplateResponse(request, "admin/orders/account.html", context)


def _invoice_qr(bolt11):
    try:
        from .qr import invoice_qr_svg
    except ImportError:  # the shop's QR module not there: draw it with qrcode directly
        import qrcode
        import qrcode.image.svg
        from django.utils.safestring import mark_safe

        image = qrcode.make("lightning:" + bolt11.upper(), image_factory=qrcode.image.svg.SvgPathImage)
        return mark_safe(image.to_string(encoding="unicode"))
    return invoice_qr_svg(bolt11)


def _sandbox_wallet_url():
    if not settings.SANDBOX:
        return None
    try:
        return reverse("sandbox:wallet")
    except NoReverseMatch:
        return "/sandbox/wallet/"


FUND_STATUS_TEXT = {
    Status.NEW: "Creating the invoice at sms4sats…",
    Status.CREATING: "Creating the invoice at sms4sats…",
    Status.UNPAID: "Waiting for the payment.",
    Status.HELD: "Paid; waiting for sms4sats to credit the balance.",
    Status.WAITING_CODE: "Paid; waiting for sms4sats to credit the balance.",
    Status.COMPLETED: "Credited to the prepaid balance.",
    Status.REFUNDED: "The payment was returned; nothing was credited.",
    Status.EXPIRED: "The invoice expired unpaid; nothing was credited.",
    Status.FAILED: "sms4sats did not issue an invoice; no money moved.",
}


def fund_order_view(request, site, public_id):
    _require(request, "orders.view_order")
    order = get_object_or_404(Order, public_id=public_id, kind=Kind.FUND)
    show_invoice = bool(order.bolt11) and order.status in (Status.UNPAID,)
    context = _context(
        request,
        site,
        f"Funding {order.quoted_sats:,} sats",
        order=order,
        status_text=FUND_STATUS_TEXT.get(order.status, order.get_status_display()),
        qr=_invoice_qr(order.bolt11) if show_invoice else None,
        show_invoice=show_invoice,
        refresh_seconds=None if order.is_terminal else FUND_REFRESH_SECONDS,
        sandbox_wallet_url=_sandbox_wallet_url() if show_invoice else None,
        credited=order.status == Status.COMPLETED,
    )
    return TemplateResponse(request, "admin/orders/fund_order.html", context)
