import json

from orders.tasks import heartbeat


def test_healthz_names_workers_when_no_heartbeat(client, db):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["database"] == "ok"
    assert body["redis"] == "ok"
    assert body["workers"] == "no heartbeat"
    assert "workers" in body["status"]


def test_healthz_ok_after_heartbeat(client, db):
    heartbeat()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert json.loads(response.content)["status"] == "ok"


def test_healthz_stale_heartbeat(client, db, settings):
    heartbeat()
    settings.HEARTBEAT_MAX_AGE = -1
    response = client.get("/healthz")
    assert response.status_code == 503
    assert json.loads(response.content)["workers"] == "stale heartbeat"


def test_healthz_redis_down(client, db, settings):
    from django.core.cache import caches

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }
    caches._settings = None
    try:
        response = client.get("/healthz")
    finally:
        caches._settings = None
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["redis"].startswith("error")
    assert "redis" in body["status"]


def test_ping_is_trivial(client, db, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/ping")
    assert response.status_code == 200
    assert response.content == b"pong"


def test_healthz_fails_when_creation_lags(client, db, settings):
    from datetime import timedelta

    from django.utils import timezone

    from orders.models import Status
    from tests.factories import make_order

    heartbeat()
    settings.CREATION_LAG_MAX_SECONDS = 30
    make_order(Status.NEW, created_at=timezone.now())
    body = json.loads(client.get("/healthz").content)
    assert body["status"] == "ok" and body["creation_lag_seconds"] < 30
    make_order(Status.NEW, created_at=timezone.now() - timedelta(seconds=45))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert body["creation_lag_seconds"] >= 45 and "creation" in body["status"]


def test_healthz_reports_sms4sats_not_answering_without_failing(client, db, settings):
    from orders.sms4sats import upstream_health

    heartbeat()
    for _ in range(settings.UPSTREAM_DOWN_AFTER_FAILURES):
        upstream_health.record(False, "poll: unreachable")
    response = client.get("/healthz")
    body = json.loads(response.content)
    assert response.status_code == 200
    assert body["upstream"] == "not answering" and body["upstream_down_since"] > 0
    upstream_health.record(True)
    assert json.loads(client.get("/healthz").content)["upstream"] == "ok"


def test_healthz_says_sms4sats_is_slow_when_a_buyer_was_told_to_try_again(client, db, upstream, monkeypatch):
    import pytest
    from django.core.cache import cache

    from orders import catalog

    heartbeat()
    assert json.loads(client.get("/healthz").content)["upstream"] == "ok"
    monkeypatch.setattr(catalog, "WAIT_SECONDS", 0.1)
    cache.add(catalog._k_fetching(catalog._k_services(43)), 1, 5)  # another request is fetching it
    with pytest.raises(catalog.CatalogUnavailable):
        catalog.services(43)
    response = client.get("/healthz")
    assert response.status_code == 200 and json.loads(response.content)["upstream"].startswith("slow")
