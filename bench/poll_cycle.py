#!/usr/bin/env python
"""Time one poll_cycle() over N due orders (default 1,000) against the sandbox served by gunicorn.

    .venv/bin/python bench/poll_cycle.py [--orders 1000] [--reps 5] [--profile]

Two cases, each repeated: "waiting" (every order is paid, has its number and waits for a code that is not
there yet: the steady state, one UPDATE per order) and "codes in" (every order's code is there: one
compare-and-set transition and one OrderEvent per order). The time is split into claim, upstream fetch
(the concurrent httpx calls) and apply. --profile writes a pyinstrument profile of one cycle of each case.
"""

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import Stack, machine_line, make_active_receive_orders, reset_orders  # noqa: E402

NUMBER_DELAY = 1
CODE_DELAY = 600  # long enough that "waiting" orders never get their code during the run


class Timer:
    """Wraps the cycle's phases (module globals looked up at call time) to split its duration."""

    def __init__(self, polling):
        self.polling = polling
        self.phases = {"claim": 0.0, "fetch": 0.0}
        self.original = {name: getattr(polling, name) for name in ("claim_due_orders", "fetch_statuses")}

        def timed_claim(*args, **kwargs):
            started = time.perf_counter()
            try:
                return self.original["claim_due_orders"](*args, **kwargs)
            finally:
                self.phases["claim"] += time.perf_counter() - started

        async def timed_fetch(*args, **kwargs):
            started = time.perf_counter()
            try:
                return await self.original["fetch_statuses"](*args, **kwargs)
            finally:
                self.phases["fetch"] += time.perf_counter() - started

        polling.claim_due_orders = timed_claim
        polling.fetch_statuses = timed_fetch

    def reset(self):
        self.phases = {"claim": 0.0, "fetch": 0.0}

    def restore(self):
        for name, fn in self.original.items():
            setattr(self.polling, name, fn)


def prepare(case, count):
    from django.utils import timezone

    from orders.models import Order, OrderEvent, Status
    from sandbox.models import SandboxOrder

    now = timezone.now()
    if not Order.objects.exists():
        make_active_receive_orders(count, paid_at=now - timedelta(seconds=30), shop_paid_at=now - timedelta(seconds=30))
    # "waiting": number assigned, code 10 minutes away; "codes in": the code has been there for a while.
    back = 30 if case == "waiting" else NUMBER_DELAY + CODE_DELAY + 30
    SandboxOrder.objects.update(paid_at=now - timedelta(seconds=back))
    OrderEvent.objects.all().delete()
    Order.objects.update(
        status=Status.WAITING_CODE,
        code="",
        completed_at=None,
        next_poll_at=now,
        paid_at=now - timedelta(seconds=30),
        poll_failures=0,
    )


def run_case(case, count, reps, timer, profile_dir=None):
    from orders.models import Order, Status
    from orders.polling import poll_cycle

    results = []
    for rep in range(reps + 1):  # the first one warms up (connections, imports) and is not counted
        prepare(case, count)
        timer.reset()
        profiler = None
        if profile_dir and rep == 1:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.001, async_mode="enabled")
            profiler.start()
        started = time.perf_counter()
        report = poll_cycle(limit=count)
        seconds = time.perf_counter() - started
        if profiler:
            profiler.stop()
            path = profile_dir / f"poll_cycle-{case.replace(' ', '_')}.txt"
            path.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
            (profile_dir / f"poll_cycle-{case.replace(' ', '_')}.html").write_text(profiler.output_html())
            print(f"  profile: {path}", flush=True)
        expected_changed = 0 if case == "waiting" else count
        if report["claimed"] != count or report["errors"] or report["changed"] != expected_changed:
            raise SystemExit(f"unexpected cycle report for {case}: {report}")
        if case == "codes in":
            done = Order.objects.filter(status=Status.COMPLETED).count()
            if done != count:
                raise SystemExit(f"only {done}/{count} orders completed")
        if rep:
            results.append(
                {"total": seconds, **timer.phases, "apply": seconds - timer.phases["claim"] - timer.phases["fetch"]}
            )
            print(
                f"  {case:9s} rep {rep}: {seconds:.3f} s  (claim {timer.phases['claim']:.3f}, "
                f"fetch {timer.phases['fetch']:.3f}, apply {results[-1]['apply']:.3f})",
                flush=True,
            )
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="write pyinstrument profiles under var/bench/")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="POLL_CONCURRENCY (upstream calls in flight; default: settings, 50)",
    )
    args = parser.parse_args()

    print(machine_line(), flush=True)
    env = {"SANDBOX_NUMBER_DELAY": str(NUMBER_DELAY), "SANDBOX_CODE_DELAY": str(CODE_DELAY)}
    if args.concurrency:
        env["POLL_CONCURRENCY"] = str(args.concurrency)
    with Stack("poll_cycle", extra_env=env) as stack:
        stack.start_web()
        from django.conf import settings

        from orders import polling

        print(
            f"gunicorn {stack.base_url}: 2 workers x 4 threads; POLL_CONCURRENCY={settings.POLL_CONCURRENCY}, "
            f"{args.orders} due orders, {args.reps} repetitions (+1 warm-up)",
            flush=True,
        )
        reset_orders()
        timer = Timer(polling)
        try:
            figures = {
                case: run_case(case, args.orders, args.reps, timer, stack.dir if args.profile else None)
                for case in ("waiting", "codes in")
            }
        finally:
            timer.restore()
            reset_orders()

    print()
    print(f"poll_cycle() over {args.orders} due orders (seconds; min / median of {args.reps}):")
    print(f"  {'case':10s} {'total':>15s} {'claim':>8s} {'fetch':>8s} {'apply':>8s} {'orders/s':>9s}")
    for case, rows in figures.items():
        total = [r["total"] for r in rows]
        med = {k: statistics.median(r[k] for r in rows) for k in ("claim", "fetch", "apply")}
        print(
            f"  {case:10s} {min(total):6.3f} / {statistics.median(total):6.3f} {med['claim']:8.3f} "
            f"{med['fetch']:8.3f} {med['apply']:8.3f} {args.orders / statistics.median(total):9.0f}"
        )
    print(machine_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
