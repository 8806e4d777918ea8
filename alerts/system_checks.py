"""``manage.py check`` (and every management command) warns about an ALERT_URLS entry Apprise does not
understand, without showing the URL (it carries secrets). A warning, not an error: a typo in an alert target
must not stop ``migrate`` and with it the shop; the test alert's log entry says the same."""

from django.core import checks


@checks.register()
def alert_urls_understood(app_configs=None, **kwargs):
    from .delivery import target_urls

    urls = target_urls()
    if not urls:
        return []
    import apprise  # only now: its import takes about a second, and every management command runs the checks

    problems = []
    for number, url in enumerate(urls, start=1):
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
