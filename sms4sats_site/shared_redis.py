"""One Redis connection per thread for the hot paths.

Django's Redis cache builds a new client object on every call, which costs more CPU than the round trip
itself (about 90 µs here, BENCHMARKS.md). The status poll and the sandbox's per-call switches use this
client instead; everything else keeps Django's cache. One connection per thread, not a shared pool: no pool
lock and no per-command check of the pooled connection on the hottest request of the site.
"""

import os
import threading

import redis
from django.conf import settings
from redis.exceptions import RedisError

# What a cache that cannot be reached raises, also through django-ratelimit (redis-py wraps socket errors).
CACHE_ERRORS = (RedisError, OSError)

_local = threading.local()


def shared_redis():
    client = getattr(_local, "client", None)
    # A forked child (gunicorn, Celery prefork) must not talk on its parent's socket.
    if client is None or _local.pid != os.getpid():
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2, single_connection_client=True
        )
        _local.client, _local.pid = client, os.getpid()
    return client


def shared_key(name):
    """Keys of this client live beside Django's cache keys, under the same prefix."""
    return f"{settings.CACHE_KEY_PREFIX}:{name}"
