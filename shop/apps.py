from django.apps import AppConfig


class ShopConfig(AppConfig):
    """The buyer's pages: views, forms, the picker, the fiat display, the order rate limits."""

    name = "shop"
    verbose_name = "Storefront"

    def ready(self):
        from django.core.signals import request_finished, request_started

        from orders import catalog

        # A page waits on sms4sats at most once (orders/catalog.py): the web's threads stay free for others.
        request_started.connect(catalog.web_request_started, dispatch_uid="catalog-request-started")
        request_finished.connect(catalog.web_request_finished, dispatch_uid="catalog-request-finished")
