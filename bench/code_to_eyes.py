#!/usr/bin/env python
"""Code to eyes: from "sms4sats has the code" to "the code is visible on the buyer's page", with N order pages
open (default 200), and the upstream calls per order that cost.

    .venv/bin/python bench/code_to_eyes.py [--orders 200] [--chromium 5] [--spread 150]

Every order is paid and has its number when the run starts (bench/workers.py's set-up: gunicorn serving the shop
and the sandbox, real Celery workers and beat, PostgreSQL, Redis); its code becomes available, by the sandbox's
timeline, at a moment spread over --spread seconds. The first --chromium orders' pages are open in real Chromium
(Playwright, /usr/bin/chromium with tests/browser.py's flags): the page's own htmx polling swaps the code in, and
a MutationObserver notes the moment the [data-code] element shows. The others' pages are "the browser mix" over
HTTP (as bench/status_partial.py's mix): the order page once, then its status partial every STATUS_POLL_SECONDS
with HX-Request and the X-Order-Version last received, until 286; the code is visible when an answer carries it.

Lag = visible - the sandbox's "code" moment. Target: p95 <= 3 s (Chromium pages and all pages).
Upstream calls per order, from gunicorn's access log (every /sandbox/api/ request naming the order), against what
the schedule needs (as bench/upstream_calls.py): one status call per POLL_FAST_SECONDS from the pages' opening to
the order's completion, plus one. Target: <= 1.5x.
"""

import argparse
import math
import re
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from stack import (  # noqa: E402
    Stack,
    cycle_rhythm,
    machine_line,
    make_active_receive_orders,
    percentile,
    reset_orders,
)

NUMBER_DELAY = 1
CODE_DELAY = 200  # paid < 5 minutes before the code: polled at the fast pace while watched
FIRST_CODE_AFTER = 20  # seconds after the pages open
LAG_TARGET = 3.0
CALLS_TARGET = 1.5
# Notes, in the page, the first moment its code shows (epoch ms; the browser and this script share a clock).
SEEN_SCRIPT = """
(() => {
  const check = () => {
    const el = document.querySelector("[data-code]");
    if (el && el.textContent.trim() && !window.__codeSeenAt) window.__codeSeenAt = Date.now();
  };
  new MutationObserver(check).observe(document, {childList: true, subtree: true, characterData: true});
  document.addEventListener("DOMContentLoaded", check);
})();
"""


# The code's element as the status part renders it (an attribute list may follow: aria-hidden for the spoken copy).
CODE_SHOWN = re.compile(r"<[^>]*\sdata-code[\s>]")


def http_pages(base_url, public_ids, seen, stop, poll_seconds):
    """The browser mix for ``public_ids``: the order page, then its status partial every ``poll_seconds`` with
    the version last received, until 286; ``seen[public_id]`` = the moment an answer carried the code."""
    import httpx

    version = {}
    due = dict.fromkeys(public_ids, 0.0)
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for public_id in public_ids:
            page = client.get(f"/o/{public_id}/")
            found = re.search(r'data-version="([^"]+)"', page.text)
            version[public_id] = found.group(1) if found else ""
            due[public_id] = time.monotonic() + poll_seconds
        while due and not stop.is_set():
            public_id = min(due, key=due.get)
            if stop.wait(max(0.0, due[public_id] - time.monotonic())):
                return
            headers = {"HX-Request": "true", "X-Order-Version": version[public_id]}
            try:
                response = client.get(f"/o/{public_id}/status", headers=headers)
            except httpx.TransportError:  # a closed keep-alive connection: a browser retries on a new one
                response = client.get(f"/o/{public_id}/status", headers=headers)
            if response.status_code in (200, 286) and response.content:
                if CODE_SHOWN.search(response.text) and public_id not in seen:
                    seen[public_id] = time.time()
                found = re.search(r'data-version="([^"]+)"', response.text)
                version[public_id] = found.group(1) if found else version[public_id]
            if response.status_code == 286:
                del due[public_id]
            elif response.headers.get("X-Poll-In"):  # shop.js's timing: the answer says when to ask again
                due[public_id] = time.monotonic() + int(response.headers["X-Poll-In"]) / 1000
            else:  # htmx's "every"
                due[public_id] += poll_seconds


def verdict(ok, text):
    print(f"{'PASS' if ok else 'FAIL'}: {text}")


def lag_line(name, lags):
    if not lags:
        return f"  {name}: none seen"
    return (
        f"  {name}: {len(lags)} pages, lag p50 {percentile(lags, 50):.2f} s, p95 {percentile(lags, 95):.2f} s, "
        f"max {max(lags):.2f} s"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=200, help="order pages open")
    parser.add_argument("--chromium", type=int, default=5, help="of which in real Chromium pages")
    parser.add_argument("--spread", type=float, default=150, help="seconds over which the codes arrive")
    parser.add_argument("--http-threads", type=int, default=8, help="threads running the other pages")
    parser.add_argument("--tail", type=float, default=30, help="seconds to wait after the last code")
    args = parser.parse_args()

    print(machine_line(), flush=True)
    # LOG_TASKS: beat's ticks and the poll cycles' lines, with their times, for cycle_rhythm().
    env = {"SANDBOX_NUMBER_DELAY": str(NUMBER_DELAY), "SANDBOX_CODE_DELAY": str(CODE_DELAY), "LOG_TASKS": "on"}
    with Stack("code_to_eyes", extra_env=env) as stack:
        stack.start_web(access_log=True)
        from django.conf import settings
        from django.utils import timezone
        from playwright.sync_api import sync_playwright

        from orders.models import Order, Status
        from sandbox.models import SandboxOrder
        from tests.browser import CHROMIUM, CHROMIUM_ARGS  # the browser tests' Chromium and flags

        reset_orders()
        start = timezone.now() + timedelta(seconds=20)  # pages open and workers ready before the first code
        offsets = [FIRST_CODE_AFTER + args.spread * i / max(1, args.orders - 1) for i in range(args.orders)]
        code_at = [start + timedelta(seconds=o) for o in offsets]
        paid_at = [c - timedelta(seconds=NUMBER_DELAY + CODE_DELAY) for c in code_at]
        # Not due before the pages open: the page's opening asks for the first poll (lifecycle.mark_watched).
        far = start + timedelta(hours=1)
        make_active_receive_orders(args.orders, paid_at=paid_at, status=Status.WAITING_CODE, next_poll_at=far)
        orders = list(Order.objects.order_by("paid_at").values_list("public_id", "upstream_id"))
        ids = [public_id for public_id, _ in orders]
        # The Chromium pages spread over the run (early, middle and late codes).
        in_chromium = ids[:: max(1, len(ids) // max(1, args.chromium))][: args.chromium]
        over_http = [public_id for public_id in ids if public_id not in in_chromium]
        stack.start_workers()
        stack.start_creator()
        stack.start_beat()
        log_start = stack.access_log.stat().st_size if stack.access_log.exists() else 0

        seen, stop = {}, threading.Event()
        opened = time.time()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context()
            context.add_init_script(SEEN_SCRIPT)
            pages = {}
            for public_id in in_chromium:
                page = context.new_page()
                page.goto(f"{stack.base_url}/o/{public_id}/")
                pages[public_id] = page
            threads = [
                threading.Thread(
                    target=http_pages,
                    args=(stack.base_url, over_http[i :: args.http_threads], seen, stop, settings.STATUS_POLL_SECONDS),
                    daemon=True,
                )
                for i in range(args.http_threads)
            ]
            for thread in threads:
                thread.start()
            print(
                f"{args.orders} order pages open ({len(pages)} in Chromium, {len(over_http)} over HTTP in "
                f"{args.http_threads} threads); codes from +{FIRST_CODE_AFTER} s to "
                f"+{FIRST_CODE_AFTER + args.spread:.0f} s",
                flush=True,
            )
            deadline = start + timedelta(seconds=FIRST_CODE_AFTER + args.spread + args.tail)
            last_report = 0.0
            while timezone.now() < deadline:
                for public_id, page in pages.items():
                    if public_id not in seen and (at := page.evaluate("window.__codeSeenAt || null")):
                        seen[public_id] = at / 1000
                if len(seen) == args.orders:
                    break
                if time.monotonic() - last_report >= 15:
                    last_report = time.monotonic()
                    print(f"  +{(timezone.now() - start).total_seconds():5.0f} s: {len(seen)} codes seen", flush=True)
                page = next(iter(pages.values()), None)
                page.wait_for_timeout(250) if page else time.sleep(0.25)
            stop.set()
            for thread in threads:
                thread.join(15)
            browser.close()

        available = {
            o.order_id: dict((state, when) for when, state in o.timeline())["code"] for o in SandboxOrder.objects.all()
        }
        completed = dict(Order.objects.values_list("upstream_id", "completed_at"))
        with open(stack.access_log, "rb") as log:
            log.seek(log_start)
            api = [ln for ln in log.read().decode(errors="replace").splitlines() if "/sandbox/api/" in ln]
        reset_orders()
        rhythm = cycle_rhythm(stack.logs["beat"], [stack.logs["worker"]])

    fast = settings.POLL_FAST_SECONDS
    lags = {"chromium": [], "http": []}
    ratios = []
    for public_id, upstream_id in orders:
        where = "chromium" if public_id in in_chromium else "http"
        if public_id in seen:
            lags[where].append(seen[public_id] - available[upstream_id].timestamp())
        if completed.get(upstream_id):
            calls = sum(1 for ln in api if upstream_id in ln)
            needed = 1 + math.ceil((completed[upstream_id].timestamp() - opened) / fast)
            ratios.append(calls / needed)
    every = lags["chromium"] + lags["http"]
    print()
    print(f"{args.orders} order pages open, codes over {args.spread:.0f} s:")
    print(lag_line("in Chromium", lags["chromium"]))
    print(lag_line("browser mix over HTTP", lags["http"]))
    print(lag_line("all", every))
    if ratios:
        print(
            f"  upstream calls per order / needed (1 + one per {fast} s from the pages' opening to completion): "
            f"median {percentile(ratios, 50):.2f}, p95 {percentile(ratios, 95):.2f}, max {max(ratios):.2f}"
        )
    if rhythm:
        print(rhythm)
    print()
    ok_chromium = bool(lags["chromium"]) and percentile(lags["chromium"], 95) <= LAG_TARGET
    ok_all = len(every) == args.orders and percentile(every, 95) <= LAG_TARGET
    verdict(ok_chromium, f"code to eyes in Chromium: p95 <= {LAG_TARGET:.0f} s")
    verdict(ok_all, f"code to eyes, all {args.orders} pages: p95 <= {LAG_TARGET:.0f} s, every code seen ({len(every)})")
    ok_calls = bool(ratios) and max(ratios) <= CALLS_TARGET
    verdict(ok_calls, f"upstream calls per order <= {CALLS_TARGET}x what the schedule needs (worst order)")
    print(machine_line())
    return 0 if ok_chromium and ok_all and ok_calls else 1


if __name__ == "__main__":
    sys.exit(main())
