"""The sandbox wallet: "pays" (holds) an invoice the sandbox issued (``pay_invoice``, usable from tests),
and its pages: /sandbox/wallet/ and the pay action."""

import logging

from django.conf import settings
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from . import clock, control
from .invoices import payment_hash_of
from .models import SandboxOrder

log = logging.getLogger(__name__)


def pay_invoice(payreq):
    """Hold the payment of a sandbox invoice now. Returns (ok, reason): reason says what happened."""
    if not isinstance(payreq, str) or not payreq.strip():
        return False, "No invoice given."
    try:
        payment_hash = payment_hash_of(payreq)
    except ValueError:
        return False, "Not a valid BOLT11 invoice."
    order = SandboxOrder.objects.filter(order_id=payment_hash).first()
    if order is None:
        return False, "Unknown invoice: it was not issued by this sandbox."
    now = clock.now()
    if order.paid_at is not None:
        return False, "This invoice is already paid."
    if now >= order.expires_at:
        return False, "This invoice has expired and can no longer be paid."
    # Compare-and-set, so two clicks on Pay cannot both succeed.
    with transaction.atomic():
        updated = SandboxOrder.objects.filter(pk=order.pk, paid_at__isnull=True).update(paid_at=now)
        if not updated:
            return False, "This invoice is already paid."
        if order.kind == SandboxOrder.SEND and order.webhook_url:
            from .tasks import schedule_webhooks

            transaction.on_commit(lambda: schedule_webhooks(order.order_id))
    if order.kind == SandboxOrder.FUND:
        return True, f"Paid {order.amount} sats: the prepaid balance is credited."
    return True, f"Paid {order.amount} sats (held until the order completes; returned if it fails)."


def wallet(request):
    now = clock.now()
    open_invoices = SandboxOrder.objects.filter(paid_at__isnull=True, expires_at__gt=now).exclude(payreq="")[:10]
    return render(
        request,
        "sandbox/wallet.html",
        {
            "payreq": request.GET.get("payreq", ""),
            "next": safe_next(request, request.GET.get("next")),
            "open_invoices": open_invoices,
            "control": control.get_control(),
            "settings": settings,
        },
    )


def safe_next(request, url):
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}) and url.startswith("/"):
        return url
    return ""


@require_POST
def wallet_pay(request):
    ok, reason = pay_invoice(request.POST.get("payreq", ""))
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({"ok": True} if ok else {"ok": False, "reason": reason}, status=200 if ok else 400)
    next_url = safe_next(request, request.POST.get("next"))
    if ok and next_url:
        return redirect(next_url)
    return render(request, "sandbox/wallet_result.html", {"ok": ok, "reason": reason}, status=200 if ok else 400)
