from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language

from backoffice.metrics import metrics_view

from .health import healthz, ping

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("ping", ping, name="ping"),
    # The language switcher's form posts here (Django's view: it sets the language cookie and goes back).
    path("language/", set_language, name="set_language"),
    path("metrics", metrics_view, name="metrics"),
    # The shop before the admin: its order status is the most requested URL (these paths never overlap).
    path("", include("shop.urls")),
    path("admin/", admin.site.urls),
]

handler403 = "shop.views.permission_denied"
handler404 = "shop.views.page_not_found"
handler500 = "shop.views.server_error"

if settings.SANDBOX:
    urlpatterns.insert(0, path("sandbox/", include("sandbox.urls")))
