from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from orders.ratelimits import ThrottledAdminAuthenticationForm, admin_login

from .health import healthz, ping

# The admin login checks no password after too many failures (orders/ratelimits.py).
admin.site.login_form = ThrottledAdminAuthenticationForm

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("ping", ping, name="ping"),
    # The shop before the admin: its order status is the most requested URL (these paths never overlap).
    path("", include("orders.urls")),
    path("admin/login/", admin_login, name="admin_login"),
    path("admin/", admin.site.urls),
]

if settings.SANDBOX:
    urlpatterns.insert(0, path("sandbox/", include("sandbox.urls")))
