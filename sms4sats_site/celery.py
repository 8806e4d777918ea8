import os
import sys
from pathlib import Path

from celery import Celery

from sms4sats_site import local_state

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sms4sats_site.settings")
# The celery command (worker, beat) is an entry point like manage.py: its local files (SQLite database, beat
# schedule) exist before the settings load. This module is also imported with the settings: no files then.
if Path(sys.argv[0]).name == "celery" or Path(sys.argv[0]).parent.name == "celery":
    local_state.prepare()
app = Celery("sms4sats_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
