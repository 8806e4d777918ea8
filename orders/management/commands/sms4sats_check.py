"""Check that the configured sms4sats upstream answers and that the referral address resolves:
``python manage.py sms4sats_check``.

One line per check, each saying OK or the error; exit code 1 when a check fails. When nothing
answers at all, a single line says so (and the referral address's line, when one is set).
"""

import logging
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.management.base import BaseCommand

from orders import referral
from orders.sms4sats import AUTO_SELECT, Sms4satsClient, Sms4satsError, UpstreamUnavailable
from shopsettings import runtime

SAMPLE_COUNTRY = 187  # USA
SAMPLE_SERVICE = "tg"  # Telegram


def printable_url(url: str) -> str:
    # The key travels in a header, never in the URL, but a URL may still carry user:password@.
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


class Command(BaseCommand):
    help = (
        "Check the configured sms4sats upstream (availability, countries, a sample price, the balance) and that "
        "the referral address (SMS4SATS_REF) resolves as a Lightning Address."
    )

    def handle(self, *args, **options):
        # Every failure is reported below, in one line each: the client's own warnings would repeat them.
        client_logger = logging.getLogger("orders.sms4sats")
        level = client_logger.level
        client_logger.setLevel(logging.ERROR)
        self.failed = False
        reachable = True
        try:
            self.check_upstream()
        except SystemExit:  # unreachable, said in one line: the referral address is still worth a line if set
            self.failed, reachable = True, False
        finally:
            client_logger.setLevel(level)
        if reachable or runtime.get("SMS4SATS_REF"):
            self.check_referral()
        if self.failed:
            raise SystemExit(1)

    def check_referral(self):
        if not runtime.get("SMS4SATS_REF"):
            self.stdout.write("referral address: skipped (SMS4SATS_REF is not set)")
            return
        result = referral.resolve(runtime.get("SMS4SATS_REF"))
        label = f"referral address {result.address}"
        if result.ok:
            self.stdout.write(f"{label}: " + self.style.SUCCESS("OK") + f" ({result.detail})")
        else:
            self.failed = True
            self.stdout.write(f"{label}: " + self.style.ERROR(f"FAILED ({result.detail})"))

    def check_upstream(self):
        url = printable_url(settings.SMS4SATS_API_URL)
        with Sms4satsClient() as client:
            try:
                client.ping()
                availability = self.style.SUCCESS("OK")
            except UpstreamUnavailable as exc:
                # Nothing else can work either: one line, no cascade of failures.
                self.stderr.write(f"sms4sats at {url} is unreachable ({exc.reason})")
                raise SystemExit(1) from None
            except Sms4satsError as exc:  # it answers, but not with a 2xx: the other checks still tell more
                self.failed = True
                availability = self.style.ERROR(f"FAILED ({type(exc).__name__}: {exc.reason})")
            self.stdout.write(f"sms4sats upstream: {url}")
            self.stdout.write(f"availability: {availability}")
            countries = self.report("countries", lambda result: f"{len(result)} countries", client.countries)
            country = self.sample_country(countries)
            services = self.report(
                f"services (country {country})", lambda result: f"{len(result)} services", client.services, country
            )
            service = self.sample_service(services)
            self.report(
                f"price (country {country}, service {service})", self.describe_price, client.price, country, service
            )
            if client.api_key:
                self.report("balance", lambda result: f"{result} sats", client.balance)
            else:
                self.stdout.write("balance: skipped (SMS4SATS_API_KEY is not set)")

    def report(self, label, describe, check, *args):
        """Run one check and print "label: OK (...)" or "label: FAILED (...)"; return its result or None."""
        try:
            result = check(*args)
        except Sms4satsError as exc:
            self.failed = True
            self.stdout.write(f"{label}: " + self.style.ERROR(f"FAILED ({type(exc).__name__}: {exc.reason})"))
            return None
        self.stdout.write(f"{label}: " + self.style.SUCCESS("OK") + f" ({describe(result)})")
        return result

    @staticmethod
    def sample_country(countries):
        codes = [country.cc for country in countries or []]
        if SAMPLE_COUNTRY in codes or not codes:
            return SAMPLE_COUNTRY
        return next((cc for cc in codes if cc != AUTO_SELECT), codes[0])

    @staticmethod
    def sample_service(services):
        codes = [service.code for service in services or []]
        if SAMPLE_SERVICE in codes or not codes:
            return SAMPLE_SERVICE
        return codes[0]

    @staticmethod
    def describe_price(price):
        if price.price is not None:
            return f"{price.price} sats"
        return f"receive {price.receive} sats, send {price.send} sats"
