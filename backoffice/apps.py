from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """The operator's pages: the admin site, the dashboard and its figures, the prepaid account."""

    name = "backoffice"
    verbose_name = "Back office"
