"""The shop's admin site: Django's admin plus the dashboard, the prepaid account pages and a throttled login.

Installed as the default site (``backoffice.apps.ShopAdminConfig`` in ``INSTALLED_APPS``), so ``admin.site``
and ``@admin.register`` are this site everywhere; the pages themselves are in ``admin_views``.
"""

from django.contrib import admin
from django.urls import path

from . import admin_views
from .login_throttle import ThrottledAdminAuthenticationForm


class ShopAdminSite(admin.AdminSite):
    site_header = "sms4sats shop"
    site_title = "sms4sats shop admin"
    index_title = "Shop administration"
    # Stops checking passwords after too many failures (backoffice/login_throttle.py).
    login_form = ThrottledAdminAuthenticationForm

    def get_urls(self):
        # Each page is wrapped in admin_view (active staff only); the views check the order permissions.
        pages = [
            path("dashboard/", self.admin_view(self.dashboard_view), name="dashboard"),
            path("account/", self.admin_view(self.account_view), name="prepaid_account"),
            path("account/fund/<uuid:public_id>/", self.admin_view(self.fund_order_view), name="fund_order"),
            path("account/order/", self.admin_view(self.balance_order_view), name="balance_order"),
        ]
        return pages + super().get_urls()

    def dashboard_view(self, request):
        return admin_views.dashboard_view(request, self)

    def account_view(self, request):
        return admin_views.account_view(request, self)

    def fund_order_view(self, request, public_id):
        return admin_views.fund_order_view(request, self, public_id)

    def balance_order_view(self, request):
        return admin_views.balance_order_view(request, self)

    def login(self, request, extra_context=None):
        """Django's login view; 429 with Retry-After while the throttle refuses this address and name."""
        response = super().login(request, extra_context=extra_context)
        wait = getattr(request, "login_throttled", 0)
        if wait:
            response.status_code = 429
            response["Retry-After"] = str(int(wait))
        return response
