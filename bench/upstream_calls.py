#!/usr/bin/env python
"""Upstream calls per order: how many calls the shop makes to sms4sats for one completed receive order, with
1 and with 10 browser tabs polling its page.

    .venv/bin/python bench/upstream_calls.py [--tabs 1 10] [--pay-after 4]

The full path runs for real: the order is placed as the picker places it (lifecycle.place_order), a Celery
worker creates it at the sandbox, the "buyer" pays the invoice with the sandbox wallet a few seconds after it
shows, and workers + beat poll it until the code is in (sandbox delays: number 3 s, code 15 s). Meanwhile each
tab (an httpx client) loads the order page and polls its status partial every 2 s with HX-Request and
X-Order-Version, as shop.js does, until the partial says stop (286).

Calls are counted in gunicorn's access log (which serves the sandbox): POST createorder and every request
under /sandbox/api/ naming this order. "Needed" is what the polling schedule asks for: the create call plus
one status call per POLL_FAST_SECONDS while the order was active (invoice issued -> completed).
"""

import argparse
import math
import re
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import Stack, machine_line, reset_orders  # noqa: E402

TAB_POLL_SECONDS = 2.0


def tab(base_url, public_id, stop, counts, index):
    """One browser tab: the order page, then the status partial every 2 s until 286 (or stop)."""
    import httpx

    with httpx.Client(base_url=base_url, timeout=10) as client:
        page = client.get(f"/o/{public_id}/")
        version = re.search(r'data-version="([^"]+)"', page.text)
        version = version.group(1) if version else ""
        while not stop.is_set():
            if stop.wait(TAB_POLL_SECONDS):
                break
            headers = {"HX-Request": "true", "X-Order-Version": version}
            try:
                response = client.get(f"/o/{public_id}/status", headers=headers)
            except httpx.TransportError:
                # gunicorn closed the idle keep-alive connection (keepalive 2 s) as we reused it: a browser
                # simply retries on a new connection.
                response = client.get(f"/o/{public_id}/status", headers=headers)
            counts[index] += 1
            if response.status_code == 200:
                found = re.search(r'data-version="([^"]+)"', response.text)
                version = found.group(1) if found else version
            elif response.status_code == 286:
                return  # htmx stops polling


def one_order(stack, tabs, pay_after, timeout):
    from orders import lifecycle
    from orders.models import Kind, Order, OrderEvent, Status
    from sandbox import catalog
    from sandbox.wallet import pay_invoice

    log_start = stack.access_log.stat().st_size if stack.access_log.exists() else 0
    order = lifecycle.place_order(
        kind=Kind.RECEIVE,
        quoted_sats=catalog.receive_price(187, "tg"),
        session_key="bench",
        country_code=187,
        country_name="USA",
        service_code="tg",
        service_name="Telegram",
    )
    stop = threading.Event()
    counts = [0] * tabs
    threads = [
        threading.Thread(target=tab, args=(stack.base_url, order.public_id, stop, counts, i), daemon=True)
        for i in range(tabs)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    paid = False
    try:
        while time.monotonic() < deadline:
            order.refresh_from_db()
            if order.status == Status.UNPAID and not paid:
                issued = order.events.get(to_status=Status.UNPAID).at
                time.sleep(max(0.0, pay_after - (time.time() - issued.timestamp())))
                ok, reason = pay_invoice(order.bolt11)
                if not ok:
                    raise SystemExit(f"paying failed: {reason}")
                paid = True
            if order.is_terminal and not any(t.is_alive() for t in threads):
                break
            time.sleep(0.2)
        # Let a little time pass after the end: no call should follow a final state.
        time.sleep(2 * stack_poll_seconds())
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
    order.refresh_from_db()
    if order.status != Status.COMPLETED:
        raise SystemExit(f"order ended {order.status}, not completed: {[e.note for e in order.events.all()]}")
    issued = OrderEvent.objects.get(order=order, to_status=Status.UNPAID).at
    with open(stack.access_log, "rb") as log:
        log.seek(log_start)
        lines = log.read().decode(errors="replace").splitlines()
    upstream_id = order.upstream_id
    api = [ln for ln in lines if "/sandbox/api/" in ln]
    creates = [ln for ln in api if "/sandbox/api/createorder" in ln]
    per_order = [ln for ln in api if upstream_id in ln]
    statuses = [ln for ln in per_order if "/orderstatus" in ln]
    partials = [ln for ln in lines if f"/o/{order.public_id}/status" in ln]
    active = (order.completed_at - issued).total_seconds()
    needed = 1 + math.ceil(active / stack_poll_seconds())
    calls = len(creates) + len(per_order)
    Order.objects.filter(pk=order.pk).delete()
    return {
        "tabs": tabs,
        "calls": calls,
        "creates": len(creates),
        "statuses": len(statuses),
        "other": len(per_order) - len(statuses),
        "needed": needed,
        "active": active,
        "partials": len(partials),
        "tab_polls": sum(counts),
    }


def stack_poll_seconds():
    from django.conf import settings

    return settings.POLL_FAST_SECONDS


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tabs", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--pay-after", type=float, default=4.0, help="seconds the buyer takes to pay")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one order may take")
    args = parser.parse_args()

    print(machine_line(), flush=True)
    env = {"SANDBOX_NUMBER_DELAY": "3", "SANDBOX_CODE_DELAY": "15"}
    with Stack("upstream_calls", extra_env=env) as stack:
        stack.start_web(access_log=True)
        stack.start_workers()
        stack.start_creator()
        stack.start_beat()
        reset_orders()
        print(
            f"gunicorn {stack.base_url} with access log, celery worker + beat; sandbox: number after 3 s, "
            f"code 15 s later; buyer pays {args.pay_after:.0f} s after the invoice shows; "
            f"POLL_FAST_SECONDS={stack_poll_seconds()}",
            flush=True,
        )
        results = []
        for tabs in args.tabs:
            result = one_order(stack, tabs, args.pay_after, args.timeout)
            results.append(result)
            print(
                f"  {tabs:2d} tab(s): {result['calls']} upstream calls ({result['creates']} create, "
                f"{result['statuses']} orderstatus, {result['other']} other), needed {result['needed']} "
                f"(active {result['active']:.1f} s); {result['partials']} status partials served",
                flush=True,
            )
        reset_orders()

    print()
    print("Upstream calls for one completed receive order (target: same with 10 tabs, <= 1.5 x needed):")
    print(f"  {'tabs':>4s} {'calls':>6s} {'needed':>7s} {'ratio':>6s} {'active s':>9s} {'partials':>9s}")
    for r in results:
        print(
            f"  {r['tabs']:4d} {r['calls']:6d} {r['needed']:7d} {r['calls'] / r['needed']:6.2f} "
            f"{r['active']:9.1f} {r['partials']:9d}"
        )
    print(machine_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
