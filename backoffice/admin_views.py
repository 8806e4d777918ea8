"""Admin pages beside the order list: the dashboard and the prepaid account (balance, fund, history, and orders
paid from the balance; when one may be placed is orders/prepaid.py).

The shop's admin site (``backoffice.admin_site``) serves them, each wrapped in ``site.admin_view`` (active staff
only); each view checks the order permissions.
"""

import uuid
from datetime import UTC, datetime, timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from orders import catalog, referral
from orders.models import Kind, Order, Status, format_duration
from orders.prepaid import balance_order_refusal, reason_without_key, replacement_under_way
from shop.forms import MESSAGE_LIMIT, ReceiveForm, SendForm
from shopsettings import runtime
from sms4sats_site import audit, onion

from . import charts, checklist, stats

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
        sats_chart=charts.sats_per_day_chart(figures["sats_per_day"]),
        balance_chart=charts.sats_per_day_chart(figures["sats_per_day"], "balance_sats", "paid from the balance"),
        referral_chart=charts.referral_per_day_chart(figures["sats_per_day"]),
        funnel_chart=charts.funnel_chart(figures["funnel"]),
        order_list_url=reverse("admin:orders_order_changelist"),
        rates={key: percent(figures["funnel"][key]) for key in ("paid_rate", "completed_rate", "overall_rate")},
        p50=format_duration(figures["to_code"]["p50"]),
        p90=format_duration(figures["to_code"]["p90"]),
        heartbeat=format_duration(figures["upstream"]["workers"]["heartbeat_age"]),
        creation_lag=format_duration(figures["upstream"]["engine"]["creation_lag"]),
        sms4sats_down_since=_clock(figures["upstream"]["sms4sats"]["since"]),
        referral_check=referral.last_result(),  # stored by the periodic check: no call on this request
        onion=onion.address_status(),
        checklist=checklist.first_run(),
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


def account_view(request, site):
    _require(request, "orders.view_order")
    key = runtime.get("SMS4SATS_API_KEY")
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
    context.update(_fund_orders())
    if request.GET.get("part") == "fund-orders":  # the funding rows' own poll: no call to sms4sats
        return TemplateResponse(request, "admin/orders/_fund_orders.html", context)

    form = FundForm(request.POST or None)
    if request.method == "POST":
        _require(request, "orders.change_order")
        if form.is_valid():
            from orders.lifecycle import place_order

            order = place_order(kind=Kind.FUND, quoted_sats=form.cleaned_data["amount"], session_key="")
            return HttpResponseRedirect(reverse("admin:fund_order", args=[order.public_id]))

    from orders.sms4sats import Sms4satsError, get_client

    client = get_client()
    try:
        context["balance"] = client.balance()
    except Sms4satsError as exc:
        context["balance_error"] = reason_without_key(exc.reason)
    try:
        history = client.history()
        context["history"] = sorted(history.entries, key=lambda e: e.created_at or timezone.now(), reverse=True)
        context["history_total"] = history.total_amount
    except Sms4satsError as exc:
        context["history_error"] = reason_without_key(exc.reason)
    context["form"] = form
    context["balance_orders"] = Order.objects.filter(paid_from_balance=True).order_by("-created_at")[:20]
    return TemplateResponse(request, "admin/orders/account.html", context)


def _fund_orders():
    orders = list(Order.objects.filter(kind=Kind.FUND).order_by("-created_at")[:20])
    return {
        "fund_orders": orders,
        "fund_orders_live": any(not order.is_terminal for order in orders),
        "fund_refresh_seconds": FUND_REFRESH_SECONDS,
    }


def _invoice_qr(bolt11):
    try:
        from shop.qr import invoice_qr_svg
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
    show_invoice = bool(order.bolt11) and order.status == Status.UNPAID
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


# --- Orders paid from the prepaid balance --------------------------------------------------------------


def buyer_page_url(order):
    """The order's public page, as the operator passes it on to the buyer."""
    return settings.PUBLIC_BASE_URL + order.get_absolute_url()


def _original_order(request):
    """The buyer's order a replacement stands in for (``replaces`` in the query or the form), or None."""
    raw = request.POST.get("replaces") or request.GET.get("replaces")
    if not raw:
        return None
    if not str(raw).isdigit():
        raise PermissionDenied("not an order")  # a tampered form; the admin's 403 page says so
    return get_object_or_404(Order, pk=int(raw), kind=Kind.RECEIVE)


STALE_FORM = "This form is out of date: reload the page and place the order again. Nothing was ordered."


def _idempotency_key(request):
    """The posted form's one-time key, or None when it has none or not one the page rendered."""
    try:
        return uuid.UUID(request.POST.get("idempotency_key", ""))
    except ValueError:
        return None


def _if_already_placed(request, key):
    """For a second post of a form that placed an order (a double click, a resubmit): that order's page, with
    nothing more ordered. None when the key placed nothing yet."""
    order = Order.objects.filter(idempotency_key=key).first() if key else None
    if order is None:
        return None
    messages.warning(
        request,
        "This order was already placed (a second click or a resubmit): nothing more was ordered. "
        f"Its page, to pass on to the buyer: {buyer_page_url(order)}",
    )
    return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))


def _order_fields(kind, data):
    """What ``place_order`` needs from a valid ReceiveForm or SendForm."""
    if kind == Kind.SEND:
        return {"phone": data["phone"], "message": data["message"]}
    return {
        "country_code": data["country"],
        "country_name": data["country_name"],
        "service_code": data["service"],
        "service_name": data["offer"].name,
    }


def balance_order_view(request, site):
    """Place an order paid from the prepaid balance: a replacement number for a buyer's order whose code never
    came (same country and service, linked to it), or a number or an SMS for the operator's own use."""
    _require(request, "orders.change_order")
    original = _original_order(request)
    if original is not None and (refusal := original.replacement_refusal()):  # the engine's rule, as the button's
        messages.error(request, f"{refusal} Nothing was ordered.")
        return HttpResponseRedirect(reverse("admin:orders_order_change", args=[original.pk]))
    title = "Replace from balance" if original else "Order from the balance"
    context = _context(
        request,
        site,
        title,
        has_key=bool(runtime.get("SMS4SATS_API_KEY")),
        original=original,
        message_limit=MESSAGE_LIMIT,
        idempotency_key=uuid.uuid4(),  # a new one per render: each form placed once
    )
    if not context["has_key"]:  # nothing can be paid from a balance the shop cannot reach
        return TemplateResponse(
            request, "admin/orders/balance_order.html", context, status=409 if request.POST else 200
        )

    key = _idempotency_key(request) if request.method == "POST" else None
    if answer := _if_already_placed(request, key):  # before anything asks sms4sats (the catalog, the balance)
        return answer

    from orders.sms4sats import get_client

    client = get_client()
    data = request.POST if request.method == "POST" else None
    if data is not None and original is not None:  # a replacement: the original's country and service, always
        data = {"country": original.country_code, "service": original.service_code}
    kind = Kind.SEND if data is not None and data.get("kind") == Kind.SEND else Kind.RECEIVE
    form = (SendForm if kind == Kind.SEND else ReceiveForm)(data)
    if data is not None and form.is_valid():
        refusal = STALE_FORM if key is None else balance_order_refusal(form.cleaned_data["price"], original, client)
        if refusal and (answer := _if_already_placed(request, key)):  # a concurrent post of this form came first
            return answer
        if refusal:
            form.add_error(None, refusal)
        elif request.POST.get("confirm") != "yes":  # first the page that says whose money goes where
            return _confirm_balance_order(request, site, form, kind, original, client)
        else:
            response = _place_once(request, form, kind, original, key)
            if response is not None:
                return response

    from orders.sms4sats import Sms4satsError

    try:
        context["balance"] = client.balance()
    except Sms4satsError as exc:
        context["balance_error"] = reason_without_key(exc.reason)
    context["form"] = form
    context["send_form"] = form if kind == Kind.SEND else SendForm()
    context.update(_balance_order_choices(request, original))
    if original is None:
        _with_price(context, None, None, send=True)
    return TemplateResponse(request, "admin/orders/balance_order.html", context, status=400 if form.errors else 200)


def _confirm_balance_order(request, site, form, kind, original, client):
    """The admin's intermediate page for an order paid from the balance: what is ordered, what it takes from the
    prepaid balance, that the buyer pays nothing, and where the sats go if sms4sats gives nothing. Its "Yes" posts
    the same form again (its one-time key too) with ``confirm=yes``."""
    from orders.sms4sats import Sms4satsError

    fields = form.cleaned_data
    try:
        balance = client.balance()
    except Sms4satsError:
        balance = None
    if kind == Kind.SEND:
        what = f"an SMS to {fields['phone']}"
    else:
        what = f"a number for {fields['offer'].name} in {fields['country_name']}"
    context = _context(
        request,
        site,
        "Pay from the prepaid balance?",
        what=what,
        price=fields["price"],
        balance=balance,
        after=None if balance is None else balance - fields["price"],
        original=original,
        auto_cancel_minutes=settings.AUTO_CANCEL_SECONDS // 60,
        resend=[
            (name, value)
            for name, values in request.POST.lists()
            if name not in ("csrfmiddlewaretoken", "confirm")
            for value in values
        ],
        back_url=reverse("admin:orders_order_change", args=[original.pk]) if original else None,
    )
    return TemplateResponse(request, "admin/orders/balance_order_confirm.html", context)


def _place_once(request, form, kind, original, key):
    """Save the order, its form's key and the original's one replacement claimed in the database before any worker
    asks sms4sats; the order's page. None, with the form saying why, when another tab's replacement came first."""
    from orders.lifecycle import place_order

    fields = form.cleaned_data
    try:
        order = place_order(
            kind=kind,
            quoted_sats=fields["price"],
            session_key="",
            paid_from_balance=True,
            replaces=original,
            idempotency_key=key,
            placed_by=audit.staff_name(request),
            **_order_fields(kind, fields),
        )
    except IntegrityError:
        # A concurrent post of this form (or another tab replacing the same order) saved its order first; this
        # one saved and queued nothing.
        if answer := _if_already_placed(request, key):
            return answer
        refusal = replacement_under_way(original)
        if refusal is None:
            raise
        form.add_error(None, refusal)
        return None
    audit.record(request, order, f"Placed, paid from the prepaid balance ({fields['price']:,} sats)")
    if original is not None:
        audit.record(request, original, f"Replaced from the balance by order {order.public_id}")
    messages.success(
        request,
        f"Order placed, paid from the prepaid balance ({fields['price']:,} sats). "
        f"Its page, to pass on to the buyer: {buyer_page_url(order)}",
    )
    return HttpResponseRedirect(reverse("admin:orders_order_change", args=[order.pk]))


def _balance_order_choices(request, original):
    """The country list, the chosen country's services and the chosen service's price, for the form."""
    if original is not None:
        return _with_price({}, original.country_code, original.service_code)
    source = request.POST if request.method == "POST" else request.GET
    countries = catalog.countries().countries
    try:
        selected_cc = int(source.get("country", catalog.AUTO_SELECT))
    except ValueError:
        selected_cc = catalog.AUTO_SELECT
    country = next((c for c in countries if c.cc == selected_cc), countries[0])
    choices = {"countries": countries, "selected_cc": country.cc, "selected_country": country}
    try:
        choices["services"] = catalog.services(country.cc)
    except catalog.CatalogError as exc:
        choices["services_error"] = exc.reason
        return choices
    offer = next((o for o in choices["services"] if o.code == source.get("service")), None)
    if offer is not None:
        choices.update(selected_service=offer.code, selected_offer=offer)
        _with_price(choices, country.cc, offer.code)
    return choices


def _with_price(choices, cc, code, send=False):
    """The price of a number (``price``) or of one SMS (``send_price``), or why it is unknown."""
    prefix = "send_" if send else ""
    try:
        choices[prefix + "price"] = catalog.send_price() if send else catalog.receive_price(cc, code)
    except catalog.CatalogError as exc:
        choices[prefix + "price_error"] = exc.reason
    return choices
