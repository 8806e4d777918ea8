"""Are the shop's own processes working? The one place of these rules, read by ``/healthz``
(sms4sats_site/health.py), the dashboard (backoffice/stats.py), the alerts (alerts/checks.py) and ``/metrics``.

- **Heartbeats**: each worker process writes the time into the cache (Redis) from a periodic task: the main
  worker (polling, sweeps) as ``WORKER``, the creator (order creation) as ``CREATOR``. A process is alive
  while its last beat is at most ``HEARTBEAT_MAX_AGE`` seconds old.
- **Creation lag**: the age of the oldest order waiting for its creation task; lagging over
  ``CREATION_LAG_MAX_SECONDS`` (buyers wait for their invoice).

Whether sms4sats answers is another matter: orders/sms4sats/upstream_health.py.
"""

import time

from django.conf import settings
from django.core.cache import cache

from .models import Order, Status

# The heartbeats' cache keys (kept as they were: a shop upgraded while running keeps reading its beats).
WORKER = "worker-heartbeat"
CREATOR = "creator-heartbeat"


def record_heartbeat(process=WORKER):
    cache.set(process, time.time(), timeout=None)


def heartbeat_age(process=WORKER):
    """Seconds since ``process`` last beat, or None if it never did."""
    beat = cache.get(process)
    return None if beat is None else max(0.0, time.time() - beat)


def is_alive(age):
    """Whether a process whose last beat is ``age`` seconds old (None: never) counts as running."""
    return age is not None and age <= settings.HEARTBEAT_MAX_AGE


def creation_lag_seconds(now=None):
    """Age of the oldest order waiting for its creation task (status new), 0 when none waits."""
    now = now or time.time()
    oldest = Order.objects.filter(status=Status.NEW).order_by("created_at").values_list("created_at", flat=True)
    oldest = oldest.first()
    return 0.0 if oldest is None else max(0.0, now - oldest.timestamp())


def is_lagging(lag):
    """Whether a creation lag of ``lag`` seconds is too long (/healthz fails, the operator is alerted)."""
    return lag > settings.CREATION_LAG_MAX_SECONDS
