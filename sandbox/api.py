"""The simulated sms4sats API (mounted at /sandbox/api): JSON, CSRF-exempt, faults applied first.

Every answer is JSON: success bodies exactly as in the contract (docs/), failures as
``{"status": "error", "reason": ...}`` with 400 for the caller's mistakes and 500 otherwise.
"""

import json
import logging
import re
from contextlib import contextmanager
from functools import wraps

import phonenumbers
import redis
from django.conf import settings
from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sms4sats_site.shared_redis import shared_key, shared_redis

from . import catalog, clock, control
from .invoices import make_invoice, new_preimage
from .models import SandboxOrder, balance, ms
from .tasks import webhook_allowed

log = logging.getLogger(__name__)
MAX_MESSAGE = 140
MAX_FUND = 100_000_000


class ApiError(Exception):
    def __init__(self, reason, status=400):
        super().__init__(reason)
        self.reason = reason
        self.status = status


def error(reason, status=400):
    return JsonResponse({"status": "error", "reason": reason}, status=status)


def api(*methods):
    """An API view: CSRF-exempt, faults applied first, ApiError and anything unexpected as the envelope."""

    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            fault = control.fault_response(request)
            if fault is not None:
                return fault
            if request.method not in methods:
                return error(f"method {request.method} not allowed; use {' or '.join(methods)}", 405)
            try:
                result = view(request, *args, **kwargs)
            except ApiError as exc:
                return error(exc.reason, exc.status)
            except Exception:
                log.exception("sandbox API error")
                return error("backend error", 500)
            return JsonResponse(result, safe=False)

        return wrapper

    return decorate


def json_body(request):
    try:
        data = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError("body must be JSON") from exc
    if not isinstance(data, dict):
        raise ApiError("body must be a JSON object")
    return data


def optional_bool(data, name):
    value = data.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ApiError(f"{name} must be a boolean")
    return value


def optional_str(data, name, max_length=200):
    value = data.get(name) or ""
    if not isinstance(value, str) or len(value) > max_length:
        raise ApiError(f"{name} must be a string of at most {max_length} characters")
    return value.strip()


def require_key(request):
    key = request.headers.get("X-API-Key")
    if not key:
        raise ApiError("X-API-Key header is missing.")
    if key != settings.SANDBOX_API_KEY:
        raise ApiError("Invalid API key.")
    return key


def find_order(request):
    order_id = request.GET.get("orderId", "").strip()
    if not order_id:
        raise ApiError("orderId is required")
    try:
        return SandboxOrder.objects.get(order_id=order_id.lower())  # unique: no ORDER BY to build
    except SandboxOrder.DoesNotExist:
        raise ApiError("order not found") from None


@contextmanager
def key_lock(key, hold_seconds=10):
    """One immediate order at a time per API key, so two concurrent orders cannot spend the same sats.

    redis-py's lock: its release deletes the key only while it still holds this holder's token, so a holder
    that outlived ``hold_seconds`` never frees a lock someone else has taken since."""
    lock = shared_redis().lock(shared_key(f"sandbox:balance-lock:{key}"), timeout=hold_seconds, blocking_timeout=5)
    if not lock.acquire():
        raise ApiError("balance is busy, try again", 500)
    try:
        yield
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:  # expired and perhaps taken by another: theirs now
            log.warning("sandbox: the balance lock of an API key expired before its holder finished")


def new_order(request, data, kind, amount, description, **fields):
    """Save an order with its invoice, or paid at once from the API-key balance when immediate."""
    now = clock.now()
    if optional_bool(data, "immediate"):
        key = require_key(request)
        preimage, payment_hash = new_preimage()
        order = SandboxOrder(
            kind=kind, order_id=payment_hash, preimage=preimage, amount=amount, description=description,
            api_key=key, immediate=True, created_at=now, expires_at=now, paid_at=now, **fields,
        )  # fmt: skip
        with key_lock(key), transaction.atomic():
            available = balance(key, now)
            if available < amount:
                raise ApiError(f"Insufficient balance: {available} sats available, {amount} needed.")
            order.save()
        if kind == SandboxOrder.SEND and order.webhook_url:
            from .tasks import schedule_webhooks

            transaction.on_commit(lambda: schedule_webhooks(order.order_id))
        return {"status": "OK", "orderId": order.order_id, "payreq": "paid"}
    invoice = make_invoice(amount, description, now)
    order = SandboxOrder.objects.create(
        kind=kind, order_id=invoice.payment_hash, preimage=invoice.preimage, payreq=invoice.payreq,
        amount=amount, description=description, created_at=now, expires_at=invoice.expires_at, **fields,
    )  # fmt: skip
    return {"status": "OK", "orderId": order.order_id, "payreq": order.payreq}


# --- the API ---------------------------------------------------------------------------------


@api("GET", "HEAD")
def root(request):
    return {"status": "OK", "message": "sms4sats sandbox is up"}


@api("GET")
def get_countries(request):
    return catalog.countries()


@api("GET")
def get_numbers_status(request):
    raw = request.GET.get("country")
    if raw is None or raw.strip() == "":
        raise ApiError("country is required")
    cc = catalog.resolve_country(raw)
    if cc is None:
        raise ApiError(f"unknown country: {raw}")
    return catalog.services_for(cc)


@api("GET")
def get_rental_countries(request):
    raw = request.GET.get("service") or "full"
    service = catalog.resolve_service(raw)
    if service is None:
        raise ApiError(f"unknown service: {raw}")
    return catalog.rental_countries(service)


@api("GET")
def price(request):
    try:
        return catalog.price_quote(request.GET.get("country"), request.GET.get("service"))
    except ValueError as exc:
        raise ApiError(str(exc)) from exc


@api("POST")
def create_order(request):
    data = json_body(request)
    if data.get("country") is None or data.get("country") == "":
        raise ApiError("country is required")
    if not data.get("service"):
        raise ApiError("service is required")
    cc = catalog.resolve_country(data["country"])
    if cc is None:
        raise ApiError(f"unknown country: {data['country']}")
    service = catalog.resolve_service(data["service"])
    if service is None:
        raise ApiError(f"unknown service: {data['service']}")
    is_rental = optional_bool(data, "isRental")
    fields = {
        "country": cc,
        "service": service,
        "realphone": optional_bool(data, "realphone"),
        "ref": optional_str(data, "ref"),
    }
    scenario = catalog.MAGIC_SERVICES.get(service) or control.global_scenario()
    fields["scenario"] = scenario if scenario in ("no_number", "no_code") else ""
    name = catalog.country_names()[cc]
    if is_rental:
        offer = next((r for r in catalog.rental_countries(service) if r["cc"] == cc), None)
        if offer is None:
            raise ApiError(f"no rental numbers for {service} in {name}")
        return new_order(request, data, SandboxOrder.RENTAL, offer["price"],
                         f"sms4sats rental {name} {service} {offer['duration']} weeks",
                         rental_weeks=int(offer["duration"]), **fields)  # fmt: skip
    if service == catalog.RENTAL_SERVICE[0]:
        raise ApiError("service full is for rentals only (isRental: true)")
    amount = catalog.receive_price(cc, service)
    return new_order(request, data, SandboxOrder.RECEIVE, amount, f"sms4sats payment {name} {service}", **fields)


@api("GET")
def order_status(request):
    return find_order(request).status_body(clock.now())


@api("GET", "POST")
def cancel_order(request):
    order = find_order(request)
    now = clock.now()
    state = order.state(now)
    if order.kind not in (SandboxOrder.RECEIVE, SandboxOrder.RENTAL):
        raise ApiError("only receive orders can be canceled")
    if order.kind == SandboxOrder.RENTAL:
        raise ApiError("rental orders are not refundable and cannot be canceled")
    if state in ("unpaid", "expired"):
        raise ApiError("order is not paid; an unpaid invoice simply expires")
    if state == "code":
        raise ApiError("code already received: the payment is settled and cannot be canceled")
    if state in ("no_number", "timed_out", "canceled"):
        raise ApiError("order is already canceled; the funds were returned")
    wait = float(settings.SANDBOX_CANCEL_AFTER)
    if (now - order.paid_at).total_seconds() < wait:
        raise ApiError(f"orders can be canceled {wait:g} seconds after payment at the earliest")
    if not SandboxOrder.objects.filter(pk=order.pk, canceled_at__isnull=True).update(canceled_at=now):
        raise ApiError("order is already canceled; the funds were returned")
    return {"status": "OK"}


PHONE_SHAPE = re.compile(r"^\+[1-9]\d{6,14}$")


def e164(phone):
    if not isinstance(phone, str) or not PHONE_SHAPE.match(phone):
        return False
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.is_possible_number(parsed) and formatted == phone


@api("POST")
def create_send_order(request):
    data = json_body(request)
    message, phone = data.get("message"), data.get("phone")
    if not isinstance(message, str) or not message.strip():
        raise ApiError("message is required")
    if len(message) > MAX_MESSAGE:
        raise ApiError(f"message is longer than {MAX_MESSAGE} characters")
    if not phone:
        raise ApiError("phone is required")
    if not e164(phone):
        raise ApiError("phone must be in E.164 format, e.g. +19871234567")
    webhook_url = optional_str(data, "webhookUrl", 500)
    if webhook_url and not re.match(r"^https?://[^\s/]+", webhook_url):
        raise ApiError("webhookUrl must be an http(s) URL")
    if webhook_url and not webhook_allowed(webhook_url):
        # A sandbox choice (the real sms4sats takes any URL): an open sandbox must not POST anywhere it is told.
        raise ApiError("webhookUrl must be on this shop's own address (PUBLIC_BASE_URL) in the sandbox")
    failing = phone.endswith("0000") or control.global_scenario() == "sms_fail"
    fields = {
        "phone": phone, "message": message, "webhook_url": webhook_url, "ref": optional_str(data, "ref"),
        "scenario": "sms_fail" if failing else "",
    }  # fmt: skip
    return new_order(request, data, SandboxOrder.SEND, catalog.SEND_PRICE, "sms4sats send sms", **fields)


@api("POST")
def fund(request):
    key = require_key(request)
    data = json_body(request)
    amount = data.get("amount")
    if isinstance(amount, float) and amount.is_integer():
        amount = int(amount)
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= MAX_FUND:
        raise ApiError(f"amount must be a whole number of sats from 1 to {MAX_FUND}")
    data.pop("immediate", None)  # funding is always paid by invoice
    return new_order(request, data, SandboxOrder.FUND, amount, "fund account", api_key=key)


@api("GET")
def get_balance(request):
    key = require_key(request)
    return {"status": "OK", "balance": balance(key, clock.now())}


@api("GET")
def history(request):
    key = require_key(request)
    funded = SandboxOrder.objects.filter(kind=SandboxOrder.FUND, api_key=key, paid_at__isnull=False)
    orders = [
        {
            "amount": o.amount,
            "createdAt": ms(o.created_at),
            "desc": o.description,
            "description": o.description,
            "holdinvoice": True,
            "preimage": o.preimage,
            "preimageHash": o.order_id,
            "price": o.amount,
            "userId": key,
        }
        for o in funded.order_by("created_at")
    ]
    return {"status": "OK", "totalAmount": sum(o["amount"] for o in orders), "orders": orders}


@api("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH")
def not_found(request, rest=""):
    raise ApiError(f"no such endpoint: /{rest}", 404)
