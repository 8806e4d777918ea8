import os

from django.core.wsgi import get_wsgi_application

from sms4sats_site import local_state

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sms4sats_site.settings")
local_state.prepare()
application = get_wsgi_application()

from django.conf import settings  # noqa: E402  (after the settings module is chosen)

from shop.lean_poll import with_lean_status_poll  # noqa: E402

application = with_lean_status_poll(application)  # an unchanged order status poll, below most middleware

if settings.SANDBOX:
    from sandbox.wsgi import with_lean_api

    application = with_lean_api(application)
