from django.apps import AppConfig


class ShopSettingsConfig(AppConfig):
    name = "shopsettings"
    verbose_name = "Shop settings"
