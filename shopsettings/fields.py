"""What the settings page shows for each editable setting: its label, kind and help. The checks themselves are
sms4sats_site/setting_checks.py's, the same the environment's values go through."""

from dataclasses import dataclass

from sms4sats_site.setting_checks import CHECKS


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    help: str
    kind: str = "text"  # text, long (several lines), bool, int, secret
    group: str = ""

    @property
    def secret(self):
        return self.kind == "secret"

    def check(self, raw):
        return CHECKS[self.name](raw)


FIELDS = [
    Field(
        "SMS4SATS_REF",
        "Referral address",
        "Your Lightning Address (name@domain): sms4sats pays it 10% of every order placed with it.",
        group="Income",
    ),
    Field(
        "SMS4SATS_API_KEY",
        "sms4sats API key",
        "Needed only for the prepaid balance (funding it, orders paid from it). Never shown again once saved.",
        kind="secret",
        group="Income",
    ),
    Field(
        "ALERT_URLS",
        "Alert targets",
        "Apprise URLs separated by spaces or commas (telegram://, mailto://, ntfy://, json://…). Empty: no alerts.",
        kind="long",
        group="Alerts",
    ),
    Field(
        "ALERT_REFUNDS_PER_HOUR",
        "Refunds per hour",
        "Alert at this many refunds within an hour (0: off).",
        "int",
        "Alerts",
    ),
    Field(
        "ALERT_BALANCE_MIN_SATS",
        "Balance under (sats)",
        "Alert when the prepaid balance falls under this (0: off; needs the API key).",
        "int",
        "Alerts",
    ),
    Field("ALERT_DAILY_SUMMARY", "Daily summary", "Send the last 24 hours' figures once a day.", "bool", "Alerts"),
    Field("ALERT_DAILY_SUMMARY_HOUR", "Daily summary hour (UTC)", "0 to 23.", "int", "Alerts"),
    Field("SHOP_NAME", "Shop name", "Shown to buyers in the page header and receipts.", group="Shop"),
    Field(
        "SHOP_CONTACT", "Contact", "How buyers reach you (an e-mail address, a Nostr or Telegram handle).", group="Shop"
    ),
    Field("SHOP_TERMS_URL", "Terms page", "An http(s) URL of your terms, linked from the buyer pages.", group="Shop"),
    Field(
        "FIAT_CURRENCIES",
        "Fiat currencies",
        "ISO 4217 codes separated by commas (USD,EUR,BRL), offered beside the sats price.",
        group="Shop",
    ),
    Field(
        "METRICS_TOKEN",
        "Metrics token",
        "The Bearer token for GET /metrics (at least 16 random characters). Never shown again once saved.",
        kind="secret",
        group="Monitoring",
    ),
]
BY_NAME = {field.name: field for field in FIELDS}
assert set(BY_NAME) == set(CHECKS), "every checked setting has its field on the page"
