from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Shop"


class ShopAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the shop's site (backoffice/admin_site.py) as the default ``admin.site``."""

    default = False  # listed by its path in INSTALLED_APPS; "orders" alone stays OrdersConfig
    default_site = "backoffice.admin_site.ShopAdminSite"
