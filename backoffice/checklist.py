"""The dashboard's first-run checklist: what a new shop still lacks, until each is done."""

from dataclasses import dataclass

from django.conf import settings

from orders import referral
from shopsettings import runtime


@dataclass
class Step:
    key: str
    title: str
    done: bool
    detail: str


def first_run():
    """The steps, or [] once every one is done (the dashboard then shows nothing)."""
    steps = [_referral(), _alerts(), _api_key()]
    return [] if all(step.done for step in steps) else steps


def _referral():
    address = runtime.get("SMS4SATS_REF")
    if not address:
        return Step("referral", "Referral address", False, "Not set: your Lightning Address earns 10% of every order.")
    result = referral.last_result()  # the periodic check's (run at once after a save on the settings page)
    if result is None:
        return Step("referral", "Referral address", False, f"{address} is set; not checked yet.")
    if not result.ok:
        return Step("referral", "Referral address", False, f"{address} does not resolve: {result.detail}.")
    return Step("referral", "Referral address", True, f"{address} resolves ({result.detail}).")


def _alerts():
    if runtime.get("ALERT_URLS"):
        return Step("alerts", "Alerts", True, "Alert targets are set.")
    return Step("alerts", "Alerts", False, "No alert target: you would not hear of a stuck worker or sms4sats down.")


def _api_key():
    if settings.SANDBOX and not settings.SMS4SATS_API_URL_SET:
        return Step("api-key", "sms4sats API key", True, "Not needed with the sandbox.")
    if runtime.get("SMS4SATS_API_KEY"):
        return Step("api-key", "sms4sats API key", True, "Set.")
    return Step(
        "api-key",
        "sms4sats API key",
        False,
        "Not set: needed only for the prepaid balance (replacing a buyer's number, your own orders).",
    )
