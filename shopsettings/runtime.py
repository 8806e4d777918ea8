"""The one accessor of the operator's settings: ``runtime.get("SMS4SATS_REF")``.

Which value wins: one set in the environment (fixed, the page cannot change it), else the one saved on the
admin's settings page, else the settings' default. Saved values reach every process (web, workers, beat) without
a restart: a save writes a new version number to Redis; each process compares it with the one it loaded at most
once a second and re-reads the rows when it changed. With Redis away, a process re-reads the rows each second.
"""

import logging
import threading
import time
import uuid

from django.conf import settings
from django.core.cache import cache

from .fields import BY_NAME

log = logging.getLogger(__name__)

VERSION_KEY = "shopsettings:version"
CHECK_SECONDS = 1.0

_lock = threading.Lock()
_state = {"version": None, "values": {}, "checked": float("-inf")}


def get(name):
    field = BY_NAME[name]  # a KeyError for a name the page does not edit: a typo, not a silent default
    if name in from_environment():
        return getattr(settings, name)
    values = _current()
    if name in values:
        return values[name]
    return getattr(settings, field.name, "")  # SHOP_* may not be settings yet: "" like an unset variable


def from_environment():
    return settings.ADMIN_SETTINGS_FROM_ENV


def stored_raw():
    """{name: text} as saved on the page (for the page itself: always fresh, no snapshot)."""
    from .models import StoredSetting

    return dict(StoredSetting.objects.values_list("name", "value"))


def _current():
    now = time.monotonic()
    if now - _state["checked"] < CHECK_SECONDS:
        return _state["values"]
    with _lock:
        if now - _state["checked"] < CHECK_SECONDS:
            return _state["values"]
        version = _version()
        if version is None or version != _state["version"]:
            values = _load()
            if values is not None:
                _state["values"] = values
                _state["version"] = version
        _state["checked"] = now
        return _state["values"]


def _version():
    try:
        version = cache.get(VERSION_KEY)
        if version is None:  # Redis emptied: a version of its own so that every process loads once
            cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
            version = cache.get(VERSION_KEY)
        return version
    except Exception as exc:
        log.debug("Settings version not read (%s)", type(exc).__name__)
        return None


def _load():
    """The saved values, each through its check; None when the database cannot be read (keep the last ones)."""
    try:
        raw = _in_sync_context(stored_raw)
    except Exception as exc:  # the database away (or not migrated yet): the last values, else the defaults
        log.debug("Settings not read from the database (%s)", type(exc).__name__)
        return None
    values = {}
    for name, text in raw.items():
        if name not in BY_NAME or not text.strip():
            continue
        try:
            values[name] = BY_NAME[name].check(text)
        except ValueError as exc:  # saved by an older version with other rules: ignored, and said so
            log.warning("Saved setting %s ignored: %s", name, exc)
    return values


def _in_sync_context(function):
    # The poller builds its clients inside an event loop, where Django refuses database queries: run the
    # query in a thread of its own there (once per change).
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function()
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    def in_thread():
        try:
            return function()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(in_thread).result()


def changed():
    """After a save commits: a new version for every process, and this one re-reads on its next ``get``."""
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception as exc:  # Redis away: the other processes re-read every second anyway
        log.warning("Settings version not published (%s)", type(exc).__name__)
    forget()


def forget():
    """This process re-reads on its next ``get`` (after a save; between tests)."""
    with _lock:
        _state.update(version=None, values={}, checked=float("-inf"))
