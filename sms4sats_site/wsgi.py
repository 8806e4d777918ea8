import os

from django.core.wsgi import get_wsgi_application

from sms4sats_site import local_state

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sms4sats_site.settings")
local_state.prepare()
application = get_wsgi_application()
