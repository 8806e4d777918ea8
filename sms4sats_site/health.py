"""GET /healthz: the state of the database, Redis and the workers; also whether sms4sats answers and how long
the oldest order has waited to be created (the creation queue's lag). The rules are orders/process_health.py's."""

from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from orders import process_health


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
        age = process_health.heartbeat_age()
        report["redis"] = "ok"
    except Exception as exc:
        age = None
        report["redis"] = f"error: {exc.__class__.__name__}"
        failing.append("redis")
    report["worker_heartbeat_age"] = None if age is None else round(age, 1)
    if "redis" not in failing:
        if not process_health.is_alive(age):
            report["workers"] = "no heartbeat" if age is None else "stale heartbeat"
            failing.append("workers")
        else:
            report["workers"] = "ok"
    if "database" not in failing:
        lag = process_health.creation_lag_seconds()
        report["creation_lag_seconds"] = round(lag, 1)
        if process_health.is_lagging(lag):
            failing.append("creation")
    if "redis" not in failing:
        from orders.sms4sats import upstream_health

        health = upstream_health.state()
        report["upstream"] = "ok" if health["up"] else "not answering"
        if not health["up"]:
            report["upstream_down_since"] = round(health["since"], 1)
        from orders import catalog

        if health["up"] and catalog.slow_since():
            report["upstream"] = "slow: buyers' catalog reads gave up waiting for it"
    # sms4sats not answering is reported, not failed on: this shop's processes are fine, and a load balancer
    # taking it out would hide the calm "sms4sats is not answering" pages from buyers.
    report["status"] = "ok" if not failing else "failing: " + ", ".join(failing)
    return JsonResponse(report, status=503 if failing else 200)


def ping(request):
    """The cheapest page the site serves: a baseline for benchmarks and load balancers."""
    return HttpResponse("pong", content_type="text/plain")
