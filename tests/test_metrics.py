"""GET /metrics (Prometheus): off by default, the token and the allowed addresses, and what it shows: orders
by kind and status, real calls to the sandbox by endpoint and outcome, the status partial's answers by code,
the creation latency, the poll and creation lags, and counts made in another process."""

import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from orders import lifecycle, metrics
from orders.models import Kind, Status
from orders.sms4sats import UpstreamRejected, get_client
from tests.factories import make_order

TOKEN = "a-metrics-token-long-enough"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def _fresh_counts():
    metrics.reset()
    yield
    metrics.reset()


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = []


def scrape(client, **headers):
    response = client.get("/metrics", headers={**AUTH, **headers})
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


# --- Access -------------------------------------------------------------------------------------------


def test_off_by_default(client, db):
    assert not django_settings.METRICS_TOKEN and not django_settings.METRICS_ALLOWED_IPS
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers=AUTH).status_code == 404


def test_the_token_is_required(client, db, token):
    assert reverse("metrics") == "/metrics"
    missing = client.get("/metrics")
    assert missing.status_code == 401
    assert missing["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-of-some-length"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert client.get("/metrics", headers=AUTH).status_code == 200
    assert client.post("/metrics", headers=AUTH).status_code == 405


def test_allowed_addresses_and_no_forwarded_header_trusted_by_default(client, db, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.1.0.0/16"]
    settings.TRUSTED_PROXIES = []
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.0.2.7").status_code == 403
    # Naming an allowed address in X-Forwarded-For does not help a client that is not a trusted proxy.
    spoofed = client.get("/metrics", REMOTE_ADDR="192.0.2.7", headers={"X-Forwarded-For": "10.1.2.3"})
    assert spoofed.status_code == 403


def test_behind_a_trusted_proxy_the_client_is_the_forwarded_address(client, db, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = ["10.1.0.0/16"]
    settings.TRUSTED_PROXIES = ["172.16.0.0/12"]
    via_proxy = {"REMOTE_ADDR": "172.18.0.2"}
    assert client.get("/metrics", headers={"X-Forwarded-For": "10.1.2.3"}, **via_proxy).status_code == 200
    # The proxy appends what it saw: a client's own entry before it is not believed.
    appended = {"X-Forwarded-For": "10.1.2.3, 192.0.2.7"}
    assert client.get("/metrics", headers=appended, **via_proxy).status_code == 403
    # The proxy itself is not an allowed scraper here.
    assert client.get("/metrics", **via_proxy).status_code == 403


def test_token_and_addresses_together_need_both(client, db, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    assert client.get("/metrics", headers=AUTH, REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 401
    assert client.get("/metrics", headers=AUTH, REMOTE_ADDR="192.0.2.7").status_code == 403


# --- What it shows -------------------------------------------------------------------------------------


def test_orders_by_kind_and_status(client, db, token):
    make_order(Status.COMPLETED)
    make_order(Status.COMPLETED)
    make_order(Status.UNPAID)
    make_order(Status.REFUNDED, kind=Kind.SEND)
    samples = scrape(client)
    assert value(samples, "sms4sats_shop_orders", kind="receive", status="completed") == 2
    assert value(samples, "sms4sats_shop_orders", kind="receive", status="unpaid") == 1
    assert value(samples, "sms4sats_shop_orders", kind="send", status="refunded") == 1
    # Every kind and status is there, zeros included, so a series never vanishes.
    assert ("sms4sats_shop_orders", (("kind", "rental"), ("status", "active"))) in samples
    assert value(samples, "sms4sats_shop_orders", kind="rental", status="active") == 0


def test_poll_lag_and_creation_lag(client, db, token):
    now = timezone.now()
    make_order(Status.WAITING_CODE, next_poll_at=now - timedelta(seconds=40))
    make_order(Status.WAITING_CODE, next_poll_at=now - timedelta(seconds=5))
    make_order(Status.WAITING_CODE, next_poll_at=now + timedelta(seconds=30))  # not due
    make_order(Status.NEW, created_at=now - timedelta(seconds=25), bolt11="")
    samples = scrape(client)
    assert value(samples, "sms4sats_shop_orders_due") == 2
    assert 40 <= value(samples, "sms4sats_shop_poll_lag_seconds") < 45
    assert 25 <= value(samples, "sms4sats_shop_creation_lag_seconds") < 30
    assert value(samples, "sms4sats_shop_upstream_up") == 1


def test_status_partial_answers_by_code(client, db, token):
    live = make_order(Status.UNPAID)
    final = make_order(Status.COMPLETED, code="123456")
    url = reverse("orders:status", args=[live.public_id])
    first = client.get(url)
    assert first.status_code == 200
    version = first.content.decode().split('data-version="')[1].split('"')[0]
    for _ in range(3):
        assert client.get(url, headers={"X-Order-Version": version}).status_code == 204
    assert client.get(reverse("orders:status", args=[final.public_id])).status_code == 286
    assert client.get(reverse("orders:status", args=[uuid.uuid4()])).status_code == 404
    samples = scrape(client)
    name = "sms4sats_shop_status_partial_answers_total"
    assert value(samples, name, code="200") == 1
    assert value(samples, name, code="204") == 3
    assert value(samples, name, code="286") == 1
    assert value(samples, name, code="404") == 1


def test_status_partial_counts_travel_in_the_polls_own_pipeline(client, db, monkeypatch):
    """No extra Redis round trip: the counts go out with a later poll's pipeline once a second."""
    from sms4sats_site.shared_redis import shared_redis

    order = make_order(Status.UNPAID)
    url = reverse("orders:status", args=[order.public_id])
    client.get(url)
    assert metrics.read_counters()["status_partial_answers"] == {}  # counted in the process, not yet sent
    monkeypatch.setattr(metrics, "FLUSH_SECONDS", 0.0)
    executed = []
    pipeline_class = type(shared_redis().pipeline())
    original = pipeline_class.execute

    def spy(self, *args, **kwargs):
        executed.append([command[0][0] for command in self.command_stack])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pipeline_class, "execute", spy)
    client.get(url)
    assert executed == [["SET", "GET", "GET", "GET", "HINCRBY"]]  # one round trip, the count included
    assert metrics.read_counters()["status_partial_answers"] == {"200": 1}


def test_real_upstream_calls_by_endpoint_and_outcome(client, token, sandbox_url):
    upstream = get_client()
    upstream.countries()
    upstream.countries()
    with pytest.raises(UpstreamRejected):
        upstream.order_status("no-such-order")
    samples = scrape(client)
    name = "sms4sats_shop_upstream_calls_total"
    assert value(samples, name, endpoint="getCountries", outcome="ok") == 2
    assert value(samples, name, endpoint="orderstatus", outcome="rejected") == 1
    assert value(samples, name, endpoint="orderstatus", outcome="ok") == 0


def test_creation_latency_of_a_real_order_on_the_sandbox(client, token, sandbox_url):
    from tests.test_admin_actions import created_upstream

    created_upstream()  # placed, then created at the sandbox over HTTP as the creator worker does
    samples = scrape(client)
    assert value(samples, "sms4sats_shop_order_creation_seconds_count") == 1
    waited = value(samples, "sms4sats_shop_order_creation_seconds_sum")
    assert 0 < waited < 10
    assert value(samples, "sms4sats_shop_order_creation_seconds_bucket", le="+Inf") == 1
    assert value(samples, "sms4sats_shop_order_creation_seconds_bucket", le="10.0") == 1
    assert value(samples, "sms4sats_shop_upstream_calls_total", endpoint="createorder", outcome="ok") == 1


def test_histogram_buckets_are_cumulative():
    metrics.observe_creation(0.3)
    metrics.observe_creation(4)
    metrics.observe_creation(500)
    metrics.flush(force=True)
    family = metrics.creation_histogram(metrics.read_counters()[metrics.HISTOGRAM_KEY])
    buckets = {s.labels["le"]: s.value for s in family.samples if s.name.endswith("_bucket")}
    assert buckets["0.25"] == 0 and buckets["0.5"] == 1 and buckets["5.0"] == 2 and buckets["120.0"] == 2
    assert buckets["+Inf"] == 3
    assert [s.value for s in family.samples if s.name.endswith("_sum")] == [504.3]


def test_counts_of_another_process_reach_the_scrape(client, db, token):
    """A worker is another process (another container): what it counts reaches the web's scrape via Redis."""
    script = (
        "import django; django.setup(); from orders import metrics; "
        "[metrics.count('upstream_calls', 'orderstatus', 'unavailable') for _ in range(3)]; "
        "metrics.flush(force=True)"
    )
    # The same Redis and key prefix as this process, as every container of the shop shares them.
    env = {
        **os.environ,
        "REDIS_URL": django_settings.REDIS_URL,
        "CACHE_KEY_PREFIX": django_settings.CACHE_KEY_PREFIX,
        "DJANGO_SETTINGS_MODULE": "sms4sats_site.settings",
    }
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[1], env=env, timeout=60)
    assert done.returncode == 0
    samples = scrape(client)
    assert value(samples, "sms4sats_shop_upstream_calls_total", endpoint="orderstatus", outcome="unavailable") == 3


def test_redis_down_is_a_calm_503(client, db, token, monkeypatch):
    def broken():
        raise ConnectionError("Redis is away")

    monkeypatch.setattr(metrics, "read_counters", broken)
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 503
    assert b"Metrics unavailable" in response.content


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN"),
        ({"METRICS_ALLOWED_IPS": "10.0.0.0/8,prometheus"}, "METRICS_ALLOWED_IPS"),
    ],
)
def test_bad_metrics_settings_fail_in_one_line(overrides, variable):
    from tests.test_settings import start

    result = start(overrides)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"Configuration error: {variable}:")


def test_a_worker_task_sends_its_counts_when_it_ends(sandbox_url, celery_worker):
    """The real creation task on a real Celery worker: its calls and the creation latency reach Redis by
    themselves (the task_postrun flush), with no scrape to flush them."""
    from sandbox import catalog

    price = catalog.receive_price(187, "tg")
    order = lifecycle.place_order(
        kind=Kind.RECEIVE, quoted_sats=price, session_key="m", country_code=187, service_code="tg"
    )
    deadline = time.monotonic() + 30
    stored = {}
    while time.monotonic() < deadline:
        stored = metrics.read_counters()
        if stored["creation_seconds"]:
            break
        time.sleep(0.2)
    order.refresh_from_db()
    assert order.status == Status.UNPAID, order.failure_reason
    assert stored["upstream_calls"].get("createorder|ok") == 1
    assert sum(n for field, n in stored["creation_seconds"].items() if field != "sum_ms") == 1
