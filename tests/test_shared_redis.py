"""The hot paths' Redis client: one connection per thread, a new one after a fork, keys under the prefix."""

import threading
from unittest import mock

from sms4sats_site import shared_redis as module
from sms4sats_site.shared_redis import shared_key, shared_redis


def test_one_client_per_thread():
    mine = shared_redis()
    assert shared_redis() is mine
    others = []
    thread = threading.Thread(target=lambda: others.append(shared_redis()))
    thread.start()
    thread.join()
    assert others and others[0] is not mine
    assert mine.ping()


def test_a_forked_child_gets_its_own_connection():
    parent = shared_redis()
    with mock.patch.object(module.os, "getpid", return_value=module.os.getpid() + 1):
        assert shared_redis() is not parent


def test_keys_live_under_the_cache_prefix(settings):
    assert shared_key("order-status:x") == f"{settings.CACHE_KEY_PREFIX}:order-status:x"
    shared_redis().set(shared_key("probe"), "1", ex=5)
    assert shared_redis().get(shared_key("probe")) == b"1"
