"""A pytest plugin for bench/suite_time.py: each test's start, end, tier and the CPU its process used, one JSON line
per test, in SUITE_TIMELINE_DIR/<xdist worker>.jsonl. Loaded with ``-p suite_timeline`` (bench/ on PYTHONPATH)."""

import json
import os
import time

TIERS = ("browser", "integration", "unit")
_started = {}
_out = None


def pytest_runtest_setup(item):
    _started[item.nodeid] = (time.time(), time.process_time())


def pytest_runtest_makereport(item, call):
    global _out
    if call.when != "teardown" or item.nodeid not in _started:
        return
    if _out is None:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        _out = open(os.path.join(os.environ["SUITE_TIMELINE_DIR"], f"{worker}.jsonl"), "a")
    began, cpu = _started.pop(item.nodeid)
    tier = next((name for name in TIERS if item.get_closest_marker(name)), "?")
    line = {"id": item.nodeid, "start": began, "end": time.time(), "tier": tier, "cpu": time.process_time() - cpu}
    _out.write(json.dumps(line) + "\n")
    _out.flush()
