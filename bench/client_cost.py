#!/usr/bin/env python
"""CPU per orderstatus call, client side and sandbox side, for the ways the poller could make its calls.

    .venv/bin/python bench/client_cost.py [--orders 1000] [--concurrency 10] [--rounds 2]

Asks the sandbox (gunicorn, as in bench/stack.py) about N orders with ``polling.fetch_statuses`` at the
given concurrency, once per client and round:

- "shop": the shop's AsyncSms4satsClient as it is (httpx on the aiohttp transport);
- "httpx": the same client on httpx's own transport (httpcore), the poller's transport before;
- "aiohttp": bare aiohttp, no httpx layer (the floor; not what the shop runs).

Reports wall time, this process's CPU per call (the client) and gunicorn's CPU per call (the sandbox).
"""

import argparse
import asyncio
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import Stack, machine_line, make_active_receive_orders, reset_orders  # noqa: E402


def tree_cpu_seconds(stack, label):
    import psutil

    total = 0.0
    for proc in stack.process_tree(label):
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    print(machine_line(), flush=True)
    env = {"SANDBOX_NUMBER_DELAY": "1", "SANDBOX_CODE_DELAY": "600"}
    with Stack("client_cost", extra_env=env) as stack:
        stack.start_web()
        import aiohttp
        import httpx
        from django.conf import settings
        from django.utils import timezone

        from orders import polling
        from orders.sms4sats import AsyncSms4satsClient

        reset_orders()
        ids = make_active_receive_orders(args.orders, paid_at=timezone.now() - timedelta(seconds=30))

        async def shop():
            async with AsyncSms4satsClient() as client:
                return await polling.fetch_statuses(ids, args.concurrency, client)

        async def plain_httpx():
            async with AsyncSms4satsClient(transport=httpx.AsyncHTTPTransport()) as client:
                return await polling.fetch_statuses(ids, args.concurrency, client)

        async def bare_aiohttp():
            limit = asyncio.Semaphore(args.concurrency)
            url = settings.SMS4SATS_API_URL + "/orderstatus"
            async with aiohttp.ClientSession() as session:

                async def one(order_id):
                    async with limit, session.get(url, params={"orderId": order_id}) as response:
                        return await response.json()

                return await asyncio.gather(*(one(order_id) for order_id in ids))

        rows = []
        for _ in range(args.rounds):
            for name, run in (("shop", shop), ("httpx", plain_httpx), ("aiohttp", bare_aiohttp)):
                server_before = tree_cpu_seconds(stack, "web")
                client_before, started = time.process_time(), time.perf_counter()
                answers = asyncio.run(run())
                wall = time.perf_counter() - started
                client_ms = (time.process_time() - client_before) / len(ids) * 1000
                server_ms = (tree_cpu_seconds(stack, "web") - server_before) / len(ids) * 1000
                if len(answers) != len(ids):
                    raise SystemExit(f"{name}: {len(answers)} answers for {len(ids)} orders")
                rows.append((name, wall, client_ms, server_ms))
                print(
                    f"  {name:8s} {wall:5.2f} s  client {client_ms:4.2f} ms CPU/call  "
                    f"sandbox {server_ms:4.2f} ms CPU/call",
                    flush=True,
                )
        reset_orders()

    print(f"\n{args.orders} orderstatus calls at concurrency {args.concurrency}, median of {args.rounds} rounds:")
    for name in ("shop", "httpx", "aiohttp"):
        mine = [row for row in rows if row[0] == name]
        wall, client_ms, server_ms = (statistics.median(row[i] for row in mine) for i in (1, 2, 3))
        print(f"  {name:8s} wall {wall:5.2f} s  client {client_ms:4.2f} ms/call  sandbox {server_ms:4.2f} ms/call")
    print(machine_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
