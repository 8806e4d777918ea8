from django.apps import AppConfig


class ShopConfig(AppConfig):
    """The buyer's pages: views, forms, the picker, the fiat display, the order rate limits."""

    name = "shop"
    verbose_name = "Storefront"

    def ready(self):
        from django.core.signals import request_finished, request_started

        from orders import catalog

        # A page's waits on sms4sats share one short budget (orders/catalog.py): the web's threads stay free.
        request_started.connect(catalog.web_request_started, dispatch_uid="catalog-request-started")
        request_finished.connect(catalog.web_request_finished, dispatch_uid="catalog-request-finished")
