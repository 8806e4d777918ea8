from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class BackofficeConfig(AppConfig):
    """The operator's pages: the admin site, the dashboard and its figures, the prepaid account."""

    name = "backoffice"
    verbose_name = "Back office"

    def ready(self):
        from orders import metrics

        from .metrics import books_gauges

        metrics.add_gauges(books_gauges)  # /metrics shows the books the dashboard shows


class ShopAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the shop's site (backoffice/admin_site.py) as the default ``admin.site``."""

    default = False  # listed by its path in INSTALLED_APPS; "backoffice" alone stays BackofficeConfig
    default_site = "backoffice.admin_site.ShopAdminSite"
