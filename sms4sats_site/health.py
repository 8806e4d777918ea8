"""GET /healthz: the state of the database, Redis and the workers."""

import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

HEARTBEAT_KEY = "worker-heartbeat"


def record_heartbeat():
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)


def heartbeat_age():
    """Seconds since a worker last beat, or None if none ever did."""
    beat = cache.get(HEARTBEAT_KEY)
    return None if beat is None else max(0.0, time.time() - beat)


def check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


@never_cache
def healthz(request):
    report = {}
    failing = []
    try:
        check_database()
        report["database"] = "ok"
    except Exception as exc:  # any driver error means "down"
        report["database"] = f"error: {exc.__class__.__name__}"
        failing.append("database")
    try:
        age = heartbeat_age()
        report["redis"] = "ok"
    except Exception as exc:
        age = None
        report["redis"] = f"error: {exc.__class__.__name__}"
        failing.append("redis")
    report["worker_heartbeat_age"] = None if age is None else round(age, 1)
    if "redis" not in failing:
        if age is None or age > settings.HEARTBEAT_MAX_AGE:
            report["workers"] = "no heartbeat" if age is None else "stale heartbeat"
            failing.append("workers")
        else:
            report["workers"] = "ok"
    report["status"] = "ok" if not failing else "failing: " + ", ".join(failing)
    return JsonResponse(report, status=503 if failing else 200)


def ping(request):
    """The cheapest page the site serves: a baseline for benchmarks and load balancers."""
    return HttpResponse("pong", content_type="text/plain")
