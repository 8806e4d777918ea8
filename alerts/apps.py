from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self):
        from orders.signals import order_changed

        from . import system_checks  # noqa: F401 - registers the ALERT_URLS system check
        from .notifications import on_order_changed

        # The operator's per-event notifications (notification rules) follow the engine's changes.
        order_changed.connect(on_order_changed, dispatch_uid="alerts.notifications.on_order_changed")
