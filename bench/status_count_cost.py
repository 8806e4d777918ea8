#!/usr/bin/env python
"""CPU of one unchanged status poll (the 204 a watching page gets every 2 s) with and without counting its
answer for /metrics, alternated in one process: Django's test client, a private Redis, SQLite.

    .venv/bin/python bench/status_count_cost.py [--blocks 10] [--requests 2000]

CPU time of the process (``time.process_time``), not wall time: a shared, loaded machine changes it far less
than it changes wrk's requests per second. "off" replaces ``metrics.count`` with a function that does nothing
(the poll's pipeline is unchanged); "on" is the shop as it runs.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(BASE_DIR / "bin"))

from with_redis import embedded_redis  # noqa: E402


def measure(blocks, requests):
    """{"off": [µs per request, one per block], "on": [...]}, and the answers Redis counted."""
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=BASE_DIR, check=True)
    import django

    django.setup()
    from django.test import Client
    from django.urls import reverse

    from orders import metrics
    from orders.models import Kind, Status
    from tests.factories import make_order

    # A paid SMS waiting to be sent: nothing on its page changes by the clock (no cancel opening, no deadline
    # within the run), so every poll is the unchanged 204.
    order = make_order(Status.HELD, kind=Kind.SEND)
    client = Client(HTTP_HOST="127.0.0.1")
    url = reverse("orders:status", args=[order.public_id])
    version = client.get(url).content.decode().split('data-version="')[1].split('"')[0]
    headers = {"X-Order-Version": version}
    assert client.get(url, headers=headers).status_code == 204
    real_count = metrics.count
    per_request = {"off": [], "on": []}
    for block in range(blocks):
        for side in ("off", "on") if block % 2 == 0 else ("on", "off"):
            metrics.count = real_count if side == "on" else (lambda *labels: None)
            started = time.process_time()
            for _ in range(requests):
                client.get(url, headers=headers)
            per_request[side].append((time.process_time() - started) / requests * 1e6)
    metrics.count = real_count
    metrics.flush(force=True)
    return per_request, metrics.read_counters()["status_partial_answers"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as var:
        os.environ["VAR_DIR"] = var  # the private Redis, the SQLite database and the secret key go there
        os.environ.pop("DATABASE_URL", None)
        with embedded_redis() as redis_url:
            os.environ.update(REDIS_URL=redis_url, DJANGO_SETTINGS_MODULE="sms4sats_site.settings")
            per_request, counted = measure(args.blocks, args.requests)
    print(f"status poll answering 204, {args.blocks} blocks of {args.requests} requests per side, alternated:")
    for side, values in per_request.items():
        print(
            f"  counting {side:3s}: median {statistics.median(values):6.1f} µs CPU per request "
            f"(min {min(values):.1f}, max {max(values):.1f})"
        )
    off, on = statistics.median(per_request["off"]), statistics.median(per_request["on"])
    print(f"  difference of the medians: {on - off:+.1f} µs ({(on - off) / off:+.1%})")
    print(f"  answers counted in Redis: {counted} (the 'on' blocks made {args.blocks * args.requests} polls, plus one)")
    print(f"  load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
