"""``manage.py check`` (and every management command) warns about an ALERT_URLS entry Apprise does not
understand, without showing the URL (it carries secrets). A warning, not an error: a typo in an alert target
must not stop ``migrate`` and with it the shop; the test alert's log entry says the same."""

from django.core import checks


@checks.register()
def alert_urls_understood(app_configs=None, **kwargs):
    import apprise

    from .delivery import target_urls

    problems = []
    for number, url in enumerate(target_urls(), start=1):
        if apprise.Apprise.instantiate(url) is None:
            scheme = url.partition("://")[0][:20]
            problems.append(
                checks.Warning(
                    f"ALERT_URLS: Apprise does not understand target {number} (scheme {scheme!r})",
                    hint="See https://github.com/caronc/apprise/wiki for the URL of each service.",
                    id="alerts.W001",
                )
            )
    return problems
