import gc
import importlib
import logging
import os
import sys
from pathlib import Path

from celery import Celery
from celery.signals import beat_init, task_postrun, worker_init

from sms4sats_site import local_state

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sms4sats_site.settings")
# The celery command (worker, beat) is an entry point like manage.py: its local files (SQLite database, beat
# schedule) exist before the settings load. This module is also imported with the settings: no files then.
if Path(sys.argv[0]).name == "celery" or Path(sys.argv[0]).parent.name == "celery":
    local_state.prepare()
app = Celery("sms4sats_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
log = logging.getLogger(__name__)


# Time limits. Every task sets soft_time_limit and time_limit (tests/test_task_limits.py checks each one). Only
# the prefork pool enforces them: the Procfile, docker-compose.yml and `make run` (bin/run.py runs the Procfile)
# all start prefork workers (Celery's default, no --pool). There, the soft limit raises SoftTimeLimitExceeded
# inside the task (so it can end cleanly: logged, retried, left to the sweep) and the hard limit kills the child
# process, which prefork replaces. The solo and threads pools (and tests' in-process workers, eager tasks)
# ignore both: there, what bounds a task is the deadline of each outbound call inside it (SMS4SATS_TIMEOUT,
# WEBHOOK_TIMEOUT_SECONDS, FIAT_RATES_TIMEOUT, REFERRAL_TIMEOUT) and the poll cycle's own time budget.
@worker_init.connect
def warn_without_time_limits(sender=None, **kwargs):
    pool = getattr(sender, "pool_cls", None)
    name = getattr(pool, "__module__", "") + "." + getattr(pool, "__name__", str(pool or ""))
    if pool is not None and "prefork" not in name:
        log.warning(
            "This worker's pool (%s) does not enforce task time limits: only each call's own deadline bounds "
            "a task. Use the default prefork pool in production.",
            name,
        )


# What the tasks import when they first run, loaded once in the prefork parent before it forks its pool (and the
# beat that -B embeds) instead of again in each child; gc.freeze() then keeps the collector from writing to those
# objects, so the pages stay shared between the processes (copy-on-write): about 20 MB less per child
# (BENCHMARKS.md, "Memory").
PRELOAD = (
    "orders.polling",
    "orders.lifecycle",
    "orders.catalog",
    "orders.fiat",
    "orders.privacy",
    "orders.referral",
    "backoffice.stats",
    "orders.sms4sats.upstream_health",
    "alerts.checks",
    "httpx_aiohttp",
    "django.contrib.sessions.management.commands.clearsessions",
)


@worker_init.connect
def share_before_fork(sender=None, **kwargs):
    for name in PRELOAD:
        importlib.import_module(name)
    gc.collect()
    gc.freeze()


@worker_init.connect
@beat_init.connect
def record_start(sender=None, **kwargs):
    """The heartbeats' grace period after a start (alerts/checks.py). worker_init, not worker_ready: it is sent
    by every worker (the tests' in-process ones too), a second or two before the worker takes tasks."""
    from alerts import checks

    try:
        checks.record_start()
    except Exception:  # Redis not up yet: no grace, the worker starts anyway
        log.warning("Could not record this process's start in Redis", exc_info=True)


@beat_init.connect
def check_referral_at_start(sender=None, **kwargs):
    """The referral address (SMS4SATS_REF, changed only by a restart) is checked at once, not 15 minutes later."""
    app.send_task("alerts.tasks.check_referral")


@beat_init.connect
def refresh_catalog_at_start(sender=None, **kwargs):
    """Prices in the service list from the first minute after a (re)start, not after the first 5-minute
    refresh of the schedule."""
    app.send_task("orders.tasks.refresh_catalog")
    from django.conf import settings

    if settings.FIAT_RATES_URL:  # fiat amounts beside the prices at once, not after the first refresh interval
        app.send_task("orders.tasks.refresh_fiat_rates")


@task_postrun.connect
def flush_metrics(**kwargs):
    """What a task counted reaches Redis when it ends (orders/metrics.py): nothing is sent when it counted
    nothing."""
    from orders import metrics

    metrics.flush(force=True)
