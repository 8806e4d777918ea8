"""One Redis client per process for the hot paths, shared by its threads.

Django's Redis cache builds a new client object on every call, which costs more CPU than the round trip
itself (about 90 µs here, BENCHMARKS.md). The status poll and the sandbox's per-call switches use this
client instead; everything else keeps Django's cache.
"""

import functools

import redis
from django.conf import settings


@functools.cache
def shared_redis():
    # redis-py's pool notices a fork and opens new connections in the child (gunicorn, Celery prefork).
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def shared_key(name):
    """Keys of this client live beside Django's cache keys, under the same prefix."""
    return f"{settings.CACHE_KEY_PREFIX}:{name}"
