from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class BackofficeConfig(AppConfig):
    """The operator's pages: the admin site, the dashboard and its figures, the prepaid account."""

    name = "backoffice"
    verbose_name = "Back office"


class ShopAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the shop's site (backoffice/admin_site.py) as the default ``admin.site``."""

    default = False  # listed by its path in INSTALLED_APPS; "backoffice" alone stays BackofficeConfig
    default_site = "backoffice.admin_site.ShopAdminSite"
