from django.apps import AppConfig


class ShopConfig(AppConfig):
    """The buyer's pages: views, forms, the picker, the fiat display, the order rate limits."""

    name = "shop"
    verbose_name = "Storefront"
