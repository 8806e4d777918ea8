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
