from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self):
        from . import system_checks  # noqa: F401 - registers the ALERT_URLS system check
