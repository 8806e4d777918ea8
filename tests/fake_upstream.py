"""A scripted sms4sats standing in for the client behind the catalog (``install`` patches it in), and the
address of an sms4sats that does not answer at all."""

import threading
import time

from with_redis import free_port

from orders import catalog
from orders.sms4sats import Country, Price, RentalCountry, Service, UpstreamRejected, UpstreamUnavailable


def unreachable_url():
    """An http:// address on this machine where nothing listens: every call is refused."""
    return f"http://127.0.0.1:{free_port()}"


class FakeUpstream:
    """A scripted sms4sats: sync and async methods with the client's names; counts calls; can go down."""

    def __init__(self):
        self.down = False
        self.calls = []
        self.delay = 0.0  # seconds each call takes: a slow sms4sats
        self.in_flight = 0
        self.most_in_flight = 0
        self._lock = threading.Lock()
        self.countries_list = [
            Country(999, "Auto-Select", False),
            Country(0, "Russia", True),
            Country(43, "Germany", True),
            Country(16, "England", True),
            Country(187, "USA", True),
        ]
        self.services_by_cc = {
            999: [
                Service("tg", "Telegram", 120, ""),
                Service("wa", "WhatsApp", 0, ""),
                Service("go", "Google", None, ""),
            ],
            43: [Service("tg", "Telegram", 50, ""), Service("ds", "Discord", 7, "")],
            0: [Service("tg", "Telegram", 3, "")],
            16: [],
            187: [Service("tg", "Telegram", 9, "")],
        }
        self.prices = {
            (999, "tg"): 1500,
            (999, "wa"): 1600,
            (999, "go"): 1700,
            (43, "tg"): 2100,
            (43, "ds"): 2200,
            (0, "tg"): 900,
            (187, "tg"): 3000,
        }
        self.rentals = [RentalCountry(16, "England", 2, 4815), RentalCountry(6, "Indonesia", 4, 1368)]
        self.send_price = 3000

    def _call(self, name, *args):
        self.calls.append((name, *args))
        if self.delay:
            with self._lock:
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            time.sleep(self.delay)
            with self._lock:
                self.in_flight -= 1
        if self.down:
            raise UpstreamUnavailable(f"{name}: timed out")

    def countries(self):
        self._call("countries")
        return list(self.countries_list)

    def services(self, country):
        self._call("services", country)
        if country not in self.services_by_cc:
            raise UpstreamRejected("unknown country")
        return list(self.services_by_cc[country])

    def rental_countries(self, service="full"):
        self._call("rental_countries", service)
        return list(self.rentals)

    def price(self, country=None, service=None):
        self._call("price", country, service)
        if country is None and service is None:
            return Price(1500, self.send_price, 15000, 4000, None, None, "")
        if (country, service) not in self.prices:
            raise UpstreamRejected("unknown service")
        value = self.prices[(country, service)]
        return Price(value, self.send_price, 15000, 4000, value, country, f"{country} {service}")

    def close(self):
        pass

    # The refresh uses the async client with the same names.
    def as_async(self):
        fake = self

        class AsyncFake:
            def __init__(self, *args, **kwargs):
                pass

            async def __aenter__(self):
                return self

            async def __aexit__(self, *exc):
                return False

            async def services(self, country):
                return fake.services(country)

            async def price(self, country=None, service=None):
                return fake.price(country, service)

        return AsyncFake

    def install(self, monkeypatch):
        monkeypatch.setattr(catalog, "_web_client", lambda: self)
        monkeypatch.setattr(catalog, "Sms4satsClient", lambda *args, **kwargs: self)
        monkeypatch.setattr(catalog, "AsyncSms4satsClient", self.as_async())
        return self
