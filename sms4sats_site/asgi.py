import os

from django.core.asgi import get_asgi_application

from sms4sats_site import local_state

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sms4sats_site.settings")
local_state.prepare()
application = get_asgi_application()
