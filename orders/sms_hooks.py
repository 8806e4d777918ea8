"""The send-order webhook: a hint that the SMS status changed. The payload is not trusted."""

from django.http import Http404, HttpResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import lifecycle
from .models import Kind, Order


@csrf_exempt
@require_POST
def send_status(request, public_id, secret):
    order = Order.objects.filter(public_id=public_id, kind=Kind.SEND).first()
    # Same answer for a wrong secret as for no order: the endpoint cannot tell which ids exist.
    if order is None or not constant_time_compare(secret, order.webhook_secret):
        raise Http404
    lifecycle.make_due(order)
    return HttpResponse(status=204)
