"""Global scenarios and faults, set through /sandbox/control and kept in Redis, so the
web server, the workers and the tests all see the same switches."""

import json
import random
import time

import redis
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from sms4sats_site.shared_redis import shared_key, shared_redis

from .tasks import origin

CACHE_KEY = "sandbox:control"
SCENARIOS = (None, "no_number", "no_code", "sms_fail")
DEFAULTS = {"scenario": None, "error_rate": 0.0, "slow_seconds": 0.0, "malformed_rate": 0.0}
MAX_SLOW_SECONDS = 60.0
# Per request, a client (a test) can force one fault with this header: error, malformed or slow.
FAULT_HEADER = "X-Sandbox-Fault"


def get_control():
    try:
        raw = shared_redis().get(shared_key(CACHE_KEY))  # read on every sandbox call: the cheap client
    except redis.RedisError:
        # The real sms4sats does not go down with the shop's Redis; neither does its stand-in (no faults then).
        return dict(DEFAULTS)
    return {**DEFAULTS, **(json.loads(raw) if raw else {})}


def set_control(data):
    """Replace the whole control from a JSON object (missing keys take their defaults).
    Returns the new control; raises ValueError(reason) on a bad value."""
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    unknown = set(data) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
    control = dict(DEFAULTS)
    if data.get("scenario") not in SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(str(s) for s in SCENARIOS)}")
    control["scenario"] = data.get("scenario")
    for key, top in (("error_rate", 1.0), ("malformed_rate", 1.0), ("slow_seconds", MAX_SLOW_SECONDS)):
        value = data.get(key, DEFAULTS[key])
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= top:
            raise ValueError(f"{key} must be a number from 0 to {top:g}")
        control[key] = float(value)
    shared_redis().set(shared_key(CACHE_KEY), json.dumps(control))
    return control


def global_scenario():
    return get_control()["scenario"]


def fault_response(request):
    """The response a fault replaces the real answer with, or None. Slowness just delays."""
    control = get_control()
    forced = request.headers.get(FAULT_HEADER, "").strip().lower()
    if forced == "slow" or control["slow_seconds"]:
        time.sleep(control["slow_seconds"] or 2.0)
    if forced == "error" or random.random() < control["error_rate"]:
        return JsonResponse({"status": "error", "reason": "backend error"}, status=500)
    if forced == "malformed" or random.random() < control["malformed_rate"]:
        # Cut-off JSON under a JSON content type: the nastiest kind of malformed.
        return HttpResponse('{"status": "OK", "paid": tr', content_type="application/json")
    return None


def refused(reason, status=400):
    return JsonResponse({"status": "error", "reason": reason}, status=status)


def same_origin_json(request):
    """Why a POST to the control is refused, or None. Only a JSON POST from this site itself (or a script
    that says it is): a cross-site form or text/plain POST, which a browser sends without asking, is refused."""
    if request.content_type != "application/json":
        return "the control takes a JSON body (Content-Type: application/json)"
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return "the control takes a same-origin POST: send an Origin header naming this site"
    own = {origin(request.build_absolute_uri("/")), origin(settings.PUBLIC_BASE_URL)}
    if origin(source) not in own:
        return "the control takes a same-origin POST only"
    return None


@csrf_exempt
def control_view(request):
    """GET: the current global scenario and faults. POST: replace them (a same-origin JSON POST)."""
    if request.method == "POST":
        refusal = same_origin_json(request)
        if refusal:
            return refused(refusal, 403)
        try:
            data = json.loads(request.body or b"{}")
        except (ValueError, UnicodeDecodeError):
            return refused("body must be JSON")
        try:
            return JsonResponse(set_control(data))
        except ValueError as exc:
            return refused(str(exc))
    if request.method != "GET":
        return refused("use GET or POST", 405)
    return JsonResponse(get_control())
