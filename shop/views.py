"""The buyer's pages. Thin: catalog reads, forms, ``lifecycle.place_order`` / ``request_cancel``.

Views never call sms4sats except through the catalog's cache rules, and never set an order's status.
The status partial answers from the status cache, else from one row.
"""

import functools
import logging
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib import messages
from django.db import DatabaseError, transaction
from django.http import Http404, HttpResponse, HttpResponseServerError
from django.shortcuts import get_object_or_404, redirect, render
from django.template import loader
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HTMX_STOP_POLLING, HttpResponseClientRefresh, HttpResponseStopPolling, reswap

from orders import catalog, countries, lifecycle, metrics, status_cache, tasks
from orders.models import (
    CHARGED_STATUSES,
    CREATION_STATUSES,
    DECIDED_STATUSES,
    HOLDING_STATUSES,
    Kind,
    Order,
    RefundReason,
    SmsStatus,
    Status,
    format_duration,
)
from orders.sms4sats import upstream_health
from shopsettings import runtime
from sms4sats_site.shop_identity import shop_identity

from . import picker, ratelimits
from .forms import COUNTRY_CODE_MAX, MESSAGE_LIMIT, ReceiveForm, RentForm, SendForm
from .qr import invoice_qr_svg, invoice_uri

log = logging.getLogger(__name__)

# The X-Order-Version header each poll carries (the part's hx-headers): the version the page shows.
VERSION_META_KEY = "HTTP_X_ORDER_VERSION"
# The status cache's look that shop/lean_poll.py took before it passed the poll on to the whole stack.
LEAN_POLL_META_KEY = "shop.status_poll"

# A service list or a price that sms4sats is slow to give: its read goes on (orders/catalog.py) and the
# fragment asks again by itself a couple of seconds later.
ASKING_AGAIN = gettext_lazy("sms4sats is slow to answer right now. Asking it again in a few seconds…")


# Helpers -------------------------------------------------------------------------------------------------


def _ensure_session(request):
    """A session with a key, so that "my orders" can find what this browser ordered."""
    request.session["buyer"] = True  # marks it modified: the cookie is set on the response
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key


def _too_many(request):
    response = render(request, "429.html", status=429)
    response["Retry-After"] = "60"
    return response


def _orders_paused(request, reason=""):
    response = render(request, "orders_paused.html", {"paused_reason": reason}, status=503)
    response["Retry-After"] = "60"
    return response


def paused_reason():
    """Why the order forms are off, with the time sms4sats was last tried, while the shared health state says it
    is not answering (orders/sms4sats/upstream_health.py); "" when it answers. An order placed now could only wait for
    an invoice that does not come."""
    state = upstream_health.state()
    if state["up"]:
        return ""
    checked = datetime.fromtimestamp(state["checked"] or time.time(), tz=UTC)
    return _("sms4sats is not answering right now (last checked at %(time)s UTC).") % {"time": f"{checked:%H:%M:%S}"}


def pausable(view):
    """An order form: while sms4sats is down, a POST gets the calm "orders are paused" answer and creates
    nothing, and the page shows the form off with the reason (``paused``)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        reason = paused_reason()
        if reason and request.method == "POST":
            return _orders_paused(request, reason)
        request.orders_paused = reason
        return view(request, *args, **kwargs)

    return wrapper


def _paused_context(request, context):
    """The form page's context while paused: the form's notice says it, so the site's banner does not too. A
    form off for the catalog's own recent failure (``unavailable``) also asks when it can come back."""
    if getattr(request, "orders_paused", ""):
        more = _("No order can be placed until it answers; this form comes back by itself.")
        context.update(unavailable=f"{request.orders_paused} {more}", hide_upstream_banner=True)
    context["paused"] = bool(context.get("unavailable"))
    return context


@require_GET
def orders_open(request):
    """A paused form's poll (every few seconds): 204 while sms4sats is down (or the catalog rests after a failed
    read, catalog.DOWN_SECONDS), then a refresh that brings the form back (htmx's HX-Refresh)."""
    if paused_reason() or catalog.unavailable_reason():
        return HttpResponse(status=204)
    return HttpResponseClientRefresh()


def _place(request, **fields):
    """Place the order from a valid form, if the rate limits allow it (429 beyond them; 503 "orders are
    paused" while Redis, which counts them, is away). The browser gets its session only for a placed order."""
    try:
        if ratelimits.order_limit_reached(request):
            return _too_many(request)
        _ensure_session(request)  # before counting, so that a browser's first order counts for its session too
        if not ratelimits.count_order(request):
            return _too_many(request)
    except ratelimits.LimitsUnavailable as exc:
        log.warning("orders paused: the rate limits cannot be counted (%s)", exc)
        return _orders_paused(request)
    with transaction.atomic():
        order = lifecycle.place_order(session_key=request.session.session_key, **fields)
    return redirect(order.get_absolute_url())


def _parse_cc(raw):
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return value if 0 <= value <= COUNTRY_CODE_MAX else None


def _get_order(public_id):
    return get_object_or_404(Order.objects.storefront(), public_id=public_id)


# The picker (receive a code) -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@pausable
def home(request):
    country_list = catalog.countries()
    country_error = ""
    if request.method == "POST":
        form = ReceiveForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            return _place(
                request,
                kind=Kind.RECEIVE,
                quoted_sats=data["price"],
                country_code=data["country"],
                country_name=data["country_name"],
                service_code=data["service"],
                service_name=data["offer"].name,
            )
        selected_cc = _parse_cc(request.POST.get("country"))
        selected_service = request.POST.get("service", "")[:40]
    else:
        form = ReceiveForm()
        selected_service = request.GET.get("service", "")[:40]  # "Try again" keeps the service
        raw = request.GET.get("country")
        selected_cc = _parse_cc(raw) if raw is not None else catalog.AUTO_SELECT
        if raw is not None and (selected_cc is None or not any(c.cc == selected_cc for c in country_list.countries)):
            country_error = _("This country is not in the list. Choose one from the list.")
            selected_cc = catalog.AUTO_SELECT
    if selected_cc is None or not any(c.cc == selected_cc for c in country_list.countries):
        selected_cc = catalog.AUTO_SELECT
    context = {
        "form": form,
        "countries": picker.country_choices(country_list.countries),
        "selected_cc": selected_cc,
        "country_error": country_error,
        "unavailable": form.unavailable or ("" if country_list.available else country_list.reason),
    }
    context.update(_services_context(selected_cc, selected_service))
    if request.method == "GET" and selected_service and selected_cc != catalog.AUTO_SELECT:  # "Try again"
        context["suggestion"] = _suggestion(selected_cc, selected_service)
    # A list that is only slow (its read goes on) asks again by itself: the form is not paused for it.
    if not context["unavailable"] and context["services_unavailable"] and not context["services_retry"]:
        context["unavailable"] = context["services_unavailable"]
    return render(request, "orders/home.html", _paused_context(request, context))


def _suggestion(cc, service_code):
    """Where ``service_code``'s codes arrived most often lately, when that beats ``cc`` (shown after a
    failed number, on the picker that "Try again" opens). When the shop's own orders are too few to tell, where
    sms4sats lists the most numbers for it instead; ``source`` says which the hint is based on."""
    best = picker.best_country_for(service_code, instead_of=cc)
    source = "orders"
    if best is None and _few_recent_orders(service_code):
        available = catalog.most_available(service_code, instead_of=cc)
        if available:
            country, count = available
            best, source = picker.Suggestion(country.cc, country.name, 0, 0), "sms4sats"
    if best is None:
        return None
    url = f"{reverse('orders:home')}?{urlencode({'country': best.cc, 'service': service_code})}"
    ctx = {"country": best, "url": url, "days": picker.SUGGEST_DAYS, "source": source}
    if source == "sms4sats":
        ctx["available"] = count
    return ctx


def _few_recent_orders(service_code):
    """Too few finished orders for this service lately for the shop's own rates to mean anything."""
    since = timezone.now() - timedelta(days=picker.SUGGEST_DAYS)
    finished = Order.objects.filter(kind=Kind.RECEIVE, service_code=service_code, created_at__gte=since).filter(
        status__in=DECIDED_STATUSES
    )
    return finished.count() < picker.SUGGEST_MIN_ORDERS


def _services_context(cc, selected_service=""):
    ctx = {
        "services": [],
        "services_error": "",
        "services_unavailable": "",
        "services_retry": False,
        "selected_cc": cc,
        "selected_service": selected_service,
        "selected_offer": None,
    }
    try:
        ctx["services"] = catalog.services(cc)
        if catalog.needs_warming(cc):  # nobody looked at this country lately: its prices are read now
            transaction.on_commit(lambda: tasks.warm_catalog_country.delay(cc), robust=True)
    except catalog.CatalogSlow:
        ctx["services_unavailable"], ctx["services_retry"] = ASKING_AGAIN, True
    except catalog.CatalogUnavailable as exc:
        ctx["services_unavailable"] = exc.reason
    except catalog.NotOffered:
        ctx["services_error"] = _("No services are offered for this country right now. Try another country.")
    else:
        if not ctx["services"]:
            ctx["services_error"] = _("No services are offered for this country right now. Try another country.")
        ctx["selected_offer"] = next((s for s in ctx["services"] if s.code == selected_service), None)
    return ctx


@require_GET
def services_fragment(request):
    """The Service field for a country (HTMX, on a change of the Country field)."""
    cc = _parse_cc(request.GET.get("country"))
    if cc is None or catalog.find_country(cc) is None:
        context = {
            "services": [],
            "services_error": _("Choose a country from the list."),
            # No country yet (the search asks to choose among its matches): a hint, not an error.
            "services_hint": not request.GET.get("country"),
            "services_unavailable": "",
            "selected_cc": None,
            "selected_service": "",
            "selected_offer": None,
        }
    else:
        context = _services_context(cc)
    context["oob_price"] = True
    return render(request, "orders/_services.html", context)


@require_POST
def show_services(request):
    """The no-JavaScript "Show services" button: it posts the order form here (its CSRF token stays in the
    body) and lands on the picker with that country chosen."""
    cc = _parse_cc(request.POST.get("country"))
    url = reverse("orders:home")
    return redirect(url if cc is None else f"{url}?country={cc}")


@require_GET
def price_fragment(request):
    """The price of the selected service (HTMX, on a change of the Service field): the order form's own checks
    and price, nothing placed. No service chosen yet: the hint."""
    context = {"price": None, "price_error": ""}
    if request.GET.get("service"):
        form = ReceiveForm(request.GET)
        if form.is_valid():
            context.update(price=form.cleaned_data["price"], offer=form.cleaned_data["offer"])
        elif form.slow:
            query = {"country": request.GET.get("country", ""), "service": request.GET["service"]}
            context.update(price_error=ASKING_AGAIN, price_retry=urlencode(query))
        else:
            context["price_error"] = next(iter(form.errors.values()))[0]  # the first field's, as the form shows it
    return render(request, "orders/_price.html", context)


# Send an SMS, rent a number ----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@pausable
def send(request):
    if request.method == "POST":
        form = SendForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            return _place(
                request, kind=Kind.SEND, quoted_sats=data["price"], phone=data["phone"], message=data["message"]
            )
    else:
        form = SendForm(initial=_send_again(request.GET.get("again")))
    price, unavailable = None, form.unavailable
    try:
        price = catalog.send_price()
    except catalog.CatalogError as exc:
        unavailable = unavailable or exc.reason
    return render(
        request,
        "orders/send.html",
        _paused_context(
            request, {"form": form, "price": price, "unavailable": unavailable, "message_limit": MESSAGE_LIMIT}
        ),
    )


def _send_again(public_id):
    """The number and message of the SMS order "Try again" came from (its unguessable id is the key, as for its
    page), to send again after a failure; {} for anything else."""
    try:
        order = Order.objects.storefront().filter(public_id=uuid.UUID(str(public_id)), kind=Kind.SEND).first()
    except ValueError:
        return {}
    return {"phone": order.phone, "message": order.message} if order else {}


@require_http_methods(["GET", "POST"])
@pausable
def rent(request):
    if request.method == "POST":
        form = RentForm(request.POST)
        if form.is_valid():
            offer = form.cleaned_data["offer"]
            return _place(
                request,
                kind=Kind.RENTAL,
                quoted_sats=offer.price,
                country_code=offer.cc,
                country_name=offer.name,
                service_code=catalog.RENTAL_SERVICE,
                service_name="Full rental",
                rental_weeks=offer.weeks,
            )
    else:
        form = RentForm()
    offers, unavailable = [], form.unavailable
    try:
        offers = countries.in_buyers_language(catalog.rental_countries())
    except catalog.CatalogError as exc:
        unavailable = unavailable or exc.reason
    selected = _parse_cc((request.POST if request.method == "POST" else request.GET).get("country"))
    return render(
        request,
        "orders/rent.html",
        _paused_context(request, {"form": form, "offers": offers, "unavailable": unavailable, "selected_cc": selected}),
    )


# Orders ---------------------------------------------------------------------------------------------------


def _countdown(moment, now):
    """Seconds left and their mm:ss text (shop.js counts down from the seconds, immune to clock skew)."""
    if moment is None:
        return None
    seconds = max(0, int((moment - now).total_seconds()))
    minutes, rest = divmod(seconds, 60)
    return {"seconds": seconds, "text": f"{minutes}:{rest:02d}"}


def _sandbox_pay_url():
    if not settings.SANDBOX:
        return ""
    try:
        return reverse("sandbox:wallet-pay")
    except NoReverseMatch:
        return ""


def tab_title(order, awaiting_confirmation=False):
    """The browser tab's title for the order's state: the page's own, and the status part's on each change."""
    what = {Kind.SEND: _("SMS"), Kind.RENTAL: _("Rental")}.get(order.kind) or _("Number order")
    number_kind = order.kind != Kind.SEND
    if awaiting_confirmation:
        state = _("Waiting for sms4sats to confirm")
    elif order.status in CREATION_STATUSES:
        state = _("Preparing the number") if order.paid_from_balance else _("Preparing the invoice")
    elif order.status == Status.UNPAID:
        state = _("Waiting for payment")
    elif order.status in HOLDING_STATUSES:
        if number_kind:
            state = _("Waiting for the code") if order.number else _("Paid, getting a number")
        else:
            state = _("Sending")
    elif order.status == Status.COMPLETED:
        if number_kind:
            state = _("Code received")
        else:
            state = _("Delivered") if order.sms_status == SmsStatus.DELIVERED else pgettext("SMS state", "Sent")
    else:
        state = {
            Status.ACTIVE: _("Number active"),
            Status.ENDED: _("Ended"),
            Status.REFUNDED: _("Refunded"),
            Status.EXPIRED: _("Invoice expired"),
        }.get(order.status) or _("Not created")
    return f"{what} · {state}"


def again_url(order):
    """Where "Try again" leads: the same form, with the same country and service chosen."""
    if order.kind == Kind.SEND:  # the form fills in that order's number and message (not in the address: logs)
        return f"{reverse('orders:send')}?{urlencode({'again': order.public_id})}"
    if order.kind == Kind.RENTAL:
        return f"{reverse('orders:rent')}?{urlencode({'country': order.country_code})}"
    query = {"country": order.country_code, "service": order.service_code}
    return f"{reverse('orders:home')}?{urlencode({k: v for k, v in query.items() if v not in (None, '')})}"


def sms_steps():
    """The steps an SMS goes through, as the order page lists them (in the page's language)."""
    return [
        (SmsStatus.CREATED, _("Queued")),
        (SmsStatus.SENT, pgettext("SMS state", "Sent")),
        (SmsStatus.DELIVERED, _("Delivered")),
    ]


def refund_title(order):
    """The heading of a refunded order: why the held payment came back, when sms4sats said why."""
    titles = {
        RefundReason.NO_NUMBER: _("Refunded: no number was available"),
        RefundReason.TIMEOUT: _("Refunded: no code arrived in time"),
        RefundReason.CANCELED: _("Refunded: canceled"),
        RefundReason.SMS_FAILED: _("Refunded: the SMS could not be sent"),
        RefundReason.UPSTREAM: _("Refunded: canceled by sms4sats"),
    }
    return titles.get(order.refund_reason) or _("Refunded")


def status_context(order, now=None, upstream_down=None):
    """Everything the status part shows, computed from the one row (no queries, no upstream calls)."""
    now = now or timezone.now()
    if upstream_down is None:
        upstream_down = upstream_health.is_down()
    can_cancel = order.can_cancel(now)
    awaiting = order.awaiting_confirmation(now)
    live = order.is_live
    ctx = {
        "order": order,
        "live": live,
        "version": status_cache.page_version(order.status_version(can_cancel, awaiting), live, upstream_down),
        "awaiting_confirmation": awaiting,
        "upstream_down": upstream_down and live,
        "can_cancel": can_cancel,
        "is_number_order": order.is_number_order,
        "amount": order.invoice_sats or order.quoted_sats,
        "invoice_countdown": _countdown(order.invoice_expires_at, now),
        "auto_cancel_countdown": _countdown(order.auto_cancel_at, now),
        "cancel_countdown": _countdown(order.cancel_allowed_at, now),
        "poll_ms": int(settings.STATUS_POLL_SECONDS * 1000),
        "refund_title": refund_title(order),
        "refund_reason_text": dict(RefundReason.choices).get(order.refund_reason, ""),
        "cancel_after_text": format_duration(settings.CANCEL_AFTER_SECONDS),
        "create_retry_text": format_duration(settings.CREATE_RETRY_SECONDS),
        "tab_title": tab_title(order, awaiting),
        "SANDBOX": settings.SANDBOX,
    }
    if order.kind == Kind.RENTAL and order.status in CHARGED_STATUSES:  # a rental with its number
        ctx["inbox"] = list(order.messages.all()[:200])
    if order.status == Status.UNPAID and order.bolt11:
        ctx["qr"] = invoice_qr_svg(order.bolt11)
        ctx["invoice_uri"] = invoice_uri(order.bolt11)
        ctx["sandbox_pay_url"] = _sandbox_pay_url()
    if order.is_terminal:
        ctx["again_url"] = again_url(order)
    if order.status == Status.EXPIRED and order.invoice_expires_at:
        # What an expired page still watches for: a payment sms4sats reports late (models.next_poll_time).
        ctx["late_payment_until"] = order.invoice_expires_at + timedelta(seconds=settings.EXPIRY_GRACE_SECONDS)
    if order.kind == Kind.SEND:
        reached = {SmsStatus.CREATED: 0, SmsStatus.SENT: 1, SmsStatus.DELIVERED: 2}.get(order.sms_status, -1)
        if order.status == Status.COMPLETED and reached < 1:
            reached = 1
        ctx["sms_steps"] = [
            {"label": label, "done": i <= reached, "current": i == reached}
            for i, (_status, label) in enumerate(sms_steps())
        ]
    return ctx


def order_detail(request, public_id):
    order = _get_order(public_id)
    # A buyer opened the page: the engine asks sms4sats about this order now, then every POLL_FAST_SECONDS.
    lifecycle.mark_watched(order)
    context = status_context(order)
    context["hide_upstream_banner"] = True  # the status part says it, with what it means for this order
    context["order_url"] = request.build_absolute_uri(order.get_absolute_url())
    response = render(request, "orders/order.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _unchanged(live, asked_at):
    """Nothing changed since the version the page sent (its hx-headers): 204 keeps it polling; once final,
    htmx's "stop polling" (286) with nothing to swap, so the page keeps what it shows."""
    response = HttpResponse(status=204) if live else reswap(HttpResponseStopPolling(), "none")
    # The hottest answer of the site: one header, not never_cache's patching (about a tenth of its cost).
    response["Cache-Control"] = "no-store"
    if live:
        response[POLL_IN_HEADER] = _poll_in_ms(asked_at)
    return response


# When a live page polls again, in milliseconds (static/shop.js keeps the time; status_cache.next_poll_in).
POLL_IN_HEADER = "X-Poll-In"


def _poll_in_ms(asked_at):
    return str(round(1000 * status_cache.next_poll_in(asked_at, time.time())))


@require_GET
def order_status(request, public_id):
    """The status part, polled every 2 s. Nearly always "nothing changed", decided from the status cache
    (no query); else one row read. 200 with the part when it changed, 286 once it is final. Each answer is
    counted by its code for /metrics (in the process; the next poll's pipeline sends the counts)."""
    try:
        response = _order_status(request, public_id)
    except Http404:
        metrics.count("status_partial_answers", "404")
        raise
    metrics.count("status_partial_answers", str(response.status_code))
    return response


def unchanged_from_cache(public_id, shown):
    """(The answer to a poll whose page shows ``shown``, when the status cache alone says nothing changed, else
    None; the cache's ``status_cache.Poll``). Marks the order as watched. Also answers polls below Django's
    middleware (shop/lean_poll.py)."""
    poll = status_cache.poll(public_id)
    cached = poll.state
    if shown and cached is not None:
        if status_cache.page_version(cached.version_at(time.time()), cached.live, poll.upstream_down) == shown:
            return _unchanged(cached.live, poll.asked_at), poll
    return None, poll


def _order_status(request, public_id):
    shown = request.META.get(VERSION_META_KEY)  # request.headers would build a dict of every header first
    poll = request.META.get(LEAN_POLL_META_KEY)  # it could not answer from it: not one round trip more
    if poll is None:
        answer, poll = unchanged_from_cache(public_id, shown)
        if answer is not None:
            return answer
    order = _get_order(public_id)
    context = status_context(order, upstream_down=poll.upstream_down)
    if shown:
        status_cache.fill(order)
        if shown == context["version"]:
            return _unchanged(order.is_live, poll.asked_at)
    context["partial"] = bool(request.htmx)  # with a <title>, which htmx puts on the tab
    response = render(request, "orders/_status.html", context)
    add_never_cache_headers(response)
    if context["live"]:
        response[POLL_IN_HEADER] = _poll_in_ms(poll.asked_at)
    else:
        response.status_code = HTMX_STOP_POLLING
    return response


def _completed_order(public_id):
    order = _get_order(public_id)
    if order.status not in CHARGED_STATUSES:  # charged: a code, sent, a rental
        raise Http404("Only a completed order has a receipt.")  # the 404 page says it for the buyer
    if order.paid_from_balance:  # the buyer paid nothing: there is nothing to give a receipt for
        raise Http404("The shop paid for this order: there is no receipt.")
    return order


def _receipt_context(request, order):
    if order.kind == Kind.SEND:
        item = _("One SMS to %(phone)s") % {"phone": order.phone}
    elif order.kind == Kind.RENTAL:
        item = ngettext(
            "Number rental, %(country)s, %(weeks)d week",
            "Number rental, %(country)s, %(weeks)d weeks",
            order.rental_weeks,
        ) % {"country": order.local_country_name, "weeks": order.rental_weeks}
    else:
        item = _("One-time number for an SMS code: %(service)s, %(country)s") % {
            "service": order.service_name or order.service_code,
            "country": order.local_country_name,
        }
    return {
        "order": order,
        "item": item,
        "charged_when": charged_when(order),
        "amount": order.invoice_sats or order.quoted_sats,
        "order_url": request.build_absolute_uri(order.get_absolute_url()),
    }


def charged_when(order):
    """When the hold invoice of a completed order was charged: its kind's rule (the receipt says it)."""
    if order.kind == Kind.SEND:
        return _("When the SMS was sent.")
    if order.kind == Kind.RENTAL:
        return _("When sms4sats gave the rented number; a rental is not refundable once it is given.")
    return _("When the code arrived.")


def _receipt_text_lines(order, context):
    """The text receipt's "label: value" lines, the values in one column after the longest label (labels differ
    in length from one language to another)."""
    when = "%Y-%m-%d %H:%M:%S UTC"
    rows = [
        (_("Amount paid"), _("%(amount)s sats (Lightning)") % {"amount": context["amount"]}),
        (pgettext("receipt: when", "Charged"), context["charged_when"]),
        (pgettext("receipt: when", "Paid"), order.paid_at.strftime(when) if order.paid_at else "-"),
        (pgettext("receipt: when", "Completed"), order.completed_at.strftime(when) if order.completed_at else "-"),
    ]
    if order.number:
        rows.append((pgettext("phone number", "Number"), order.display_number))
    rows += [
        (_("Payment hash"), order.payment_hash or "-"),
        (_("Seller"), _("sms4sats (the invoice paid was sms4sats' own)")),
    ]
    shop = shop_identity(runtime.get)
    if shop["named"] or shop["contact"]:
        contact = shop["contact"]
        # On paper a link is its address; an e-mail address or a handle is read as it is.
        reach = contact and (contact.href if contact.kind in ("nostr", "url") else contact.label)
        rows.append((_("Shop"), " · ".join(filter(None, [shop["name"], reach, shop["terms_url"]]))))
    rows.append((pgettext("receipt: the order's address", "Order"), context["order_url"]))
    width = max(len(label) for label, _value in rows) + 3  # the colon and at least two spaces
    return [f"{label}:".ljust(width) + value for label, value in rows]


@require_GET
def order_receipt(request, public_id):
    """A completed order's receipt: a printable page."""
    order = _completed_order(public_id)
    response = render(request, "orders/receipt.html", _receipt_context(request, order))
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def order_receipt_file(request, public_id):
    """The same receipt as a plain-text file to keep."""
    order = _completed_order(public_id)
    context = _receipt_context(request, order)
    context["lines"] = _receipt_text_lines(order, context)
    context["shop_name"] = shop_identity(runtime.get)["name"]
    text = loader.render_to_string("orders/receipt.txt", context)
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="sms4sats-receipt-{order.public_id}.txt"'
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def order_cancel(request, public_id):
    order = _get_order(public_id)
    try:
        with transaction.atomic():
            lifecycle.request_cancel(order)  # refused with the reason (Order.cancel_refusal)
    except lifecycle.CancelRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Cancel requested. Your payment is returned as soon as sms4sats confirms, usually within seconds."),
        )
    return redirect(order.get_absolute_url())


def my_orders(request):
    key = request.session.session_key
    orders = []
    if key:
        orders = list(Order.objects.for_session(key).order_by("-created_at")[:100])
    response = render(request, "orders/my_orders.html", {"orders": orders})
    # A list of order addresses (each one opens its order): never kept by a shared cache, nor on disk.
    response["Cache-Control"] = "private, no-store"
    return response


def how_it_works(request):
    return render(
        request,
        "orders/how.html",
        {
            "cancel_after_minutes": max(1, settings.CANCEL_AFTER_SECONDS // 60),
            "session_days": settings.SESSION_COOKIE_AGE // 86400,
        },
    )


# Error pages (sms4sats_site/urls.py and CSRF_FAILURE_VIEW): the site's layout, no debug wording -----------


def page_not_found(request, exception):
    return render(request, "404.html", status=404)


def permission_denied(request, exception):
    return render(request, "403.html", status=403)


def csrf_failure(request, reason=""):
    """Django's own page needs inline CSS (blocked by the CSP) and speaks to developers."""
    return render(request, "403_csrf.html", status=403)


def server_error(request):
    """Without context processors: whatever failed (the database, Redis) may still be failing. A database that
    refuses connections is an outage, not a bug: 503 with Retry-After, the same calm page."""
    response = HttpResponseServerError(loader.get_template("500.html").render({"SHOP": shop_identity(runtime.get)}))
    if isinstance(sys.exc_info()[1], DatabaseError):
        response.status_code = 503
        response["Retry-After"] = "5"
    return response
