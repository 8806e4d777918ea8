from django.apps import AppConfig


class OrdersConfig(AppConfig):
    """The engine: the orders, their lifecycle, polling, the sms4sats client (the app label "orders")."""

    name = "orders"
    verbose_name = "Shop"
