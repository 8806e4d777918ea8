from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self):
        from orders.signals import order_changed

        from .events import on_order_changed

        order_changed.connect(on_order_changed, dispatch_uid="webhooks.events.on_order_changed")

        from orders import metrics

        from .metrics import webhook_gauges

        metrics.add_gauges(webhook_gauges)  # deliveries by state and failing endpoints on /metrics
