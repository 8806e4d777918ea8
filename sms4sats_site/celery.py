import os
import sys
from pathlib import Path

from celery import Celery
from celery.signals import beat_init, task_postrun

from sms4sats_site import local_state

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sms4sats_site.settings")
# The celery command (worker, beat) is an entry point like manage.py: its local files (SQLite database, beat
# schedule) exist before the settings load. This module is also imported with the settings: no files then.
if Path(sys.argv[0]).name == "celery" or Path(sys.argv[0]).parent.name == "celery":
    local_state.prepare()
app = Celery("sms4sats_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


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
