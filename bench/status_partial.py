#!/usr/bin/env python
"""The status partial under load: wrk with N connections (default 50 and 200) polling the status partials of
real orders in various states, over loopback, against gunicorn; and in the same run a trivial view on the
same server, for the ratio partial/trivial.

    .venv/bin/python bench/status_partial.py [--connections 50 200] [--seconds 15] [--orders 200]
    .venv/bin/python bench/status_partial.py --profile [--requests 2000] [--orders 200] [--profile-out DIR]

Needs wrk (Debian: apt-get install -y wrk). Each request carries ``HX-Request: true``; the Lua script
(bench/status_partial.lua) rotates over the orders' URLs. Two ways of polling are measured:

- "full": no X-Order-Version header, so every answer is the rendered partial (a first poll, or a change);
- "browser": the X-Order-Version a polling page sends: the version of the part it last received for that
  order (read from the answers during the run), so a live order that did not change answers 204, one whose
  part changed (its cancel button turns active 2 minutes after the payment) is rendered once, and a final
  one answers an empty 286 (what a page polling every 2 s costs).

``--compare-first-versions`` adds "browser, first versions": the version read before the run, never updated
(this script until 2026-11-28). Those go stale as the paid orders reach their cancel window, about 80 s into
a run, and every later poll of them is a full render: not what browsers do.

The trivial view is /ping when the site has one (200), else the closest cheap page: a 404 for a path that no
view serves (the whole middleware stack, URL resolution and a short response, no template, no query; gunicorn
runs with LOG_LEVEL=ERROR so that Django's per-404 warning is not logged). --py-spy samples the gunicorn
workers with py-spy during each run and prints where they spend their time.

--profile (no wrk, no gunicorn): --requests requests of each kind (trivial, browser mix, full render) through
the shop's WSGI application (sms4sats_site/wsgi.py, as gunicorn serves it: unchanged polls skip most middleware)
in this process, with the production middleware, PostgreSQL and Redis, under cProfile; prints the time per
request and how much of it each part takes (each middleware, session, locale, template, Redis, database),
inclusive, so the parts overlap (a middleware includes what it calls). --profile-out DIR also writes each kind's
cProfile data (DIR/<kind>.prof, for pstats or snakeviz).
"""

import argparse
import cProfile
import io
import json
import pstats
import re
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import (  # noqa: E402
    GUNICORN_THREADS,
    GUNICORN_WORKERS,
    Stack,
    machine_line,
    py_spy_start,
    py_spy_summary,
    reset_orders,
)

LUA = Path(__file__).resolve().parent / "status_partial.lua"
PAUSE_SECONDS = 3
# Live orders are the ones being polled; terminal ones answer once (286) and the page stops polling.
MIX = [
    ("unpaid", "receive", 25),
    ("held", "receive", 10),
    ("waiting_code", "receive", 30),
    ("held", "send", 10),
    ("completed", "receive", 10),
    ("completed", "send", 5),
    ("refunded", "receive", 5),
    ("expired", "receive", 3),
    ("failed", "receive", 2),
]


def make_orders(count):
    """Orders in the MIX's states, with what each state carries (a real invoice for unpaid ones)."""
    from django.utils import timezone

    from orders.models import Kind, Order, RefundReason, SmsStatus, Status
    from sandbox.invoices import make_invoice

    now = timezone.now()
    total = sum(weight for *_, weight in MIX)
    rows = []
    for status, kind, weight in MIX:
        for _ in range(max(1, round(count * weight / total))):
            fields = {
                "kind": kind,
                "status": status,
                "quoted_sats": 2000,
                "invoice_sats": 2000,
                "session_key": "bench",
                "created_at": now - timedelta(minutes=1),
            }
            if kind == Kind.RECEIVE:
                fields.update(country_code=187, country_name="USA", service_code="tg", service_name="Telegram")
            else:
                fields.update(
                    phone="+14155550123", message="Hello from the benchmark", quoted_sats=3000, invoice_sats=3000
                )
            if status != Status.FAILED:
                invoice = make_invoice(fields["quoted_sats"], "bench", now)
                fields.update(
                    bolt11=invoice.payreq,
                    payment_hash=invoice.payment_hash,
                    invoice_expires_at=invoice.expires_at,
                    upstream_id=invoice.payment_hash,
                )
            if status in (Status.HELD, Status.WAITING_CODE, Status.COMPLETED, Status.REFUNDED):
                fields["paid_at"] = now - timedelta(seconds=40)
            if status == Status.WAITING_CODE or (status == Status.COMPLETED and kind == Kind.RECEIVE):
                fields.update(number="12025550123", number_at=now - timedelta(seconds=37))
            if status == Status.COMPLETED:
                fields["completed_at"] = now - timedelta(seconds=5)
                if kind == Kind.RECEIVE:
                    fields["code"] = "48213"
                else:
                    fields["sms_status"] = SmsStatus.DELIVERED
            if status == Status.HELD and kind == Kind.SEND:
                fields["sms_status"] = SmsStatus.CREATED
            if status == Status.REFUNDED:
                fields.update(refund_reason=RefundReason.NO_NUMBER, refunded_at=now)
            if status == Status.FAILED:
                fields["failure_reason"] = "sms4sats could not take this order."
            rows.append(Order(**fields))
    return Order.objects.bulk_create(rows)


def wrk(url, connections, seconds, targets_file, versions="last"):
    """Run wrk; returns the dict printed by the Lua script's done(). ``versions``: "last" (each order's version
    as last received) or "first" (as read before the run)."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA), url]
    env = {
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "BENCH_TARGETS": str(targets_file) if targets_file else "",
        "BENCH_VERSIONS": versions,
    }
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk gave no result:\n{out.stdout}\n{out.stderr}")
    return json.loads(line[len("BENCH_RESULT ") :])


# (label, file suffix, function name): the parts of a request the profile reports, inclusive.
PARTS = [
    ("WSGI handler, whole request", "handlers/wsgi.py", "__call__"),
    ("lean status poll, whole request", "shop/lean_poll.py", "application"),
    ("SecurityMiddleware (resp)", "middleware/security.py", "process_response"),
    ("GZipMiddleware (resp)", "middleware/gzip.py", "process_response"),
    ("ShopCSPMiddleware (req)", "csp/middleware.py", "process_request"),
    ("ShopCSPMiddleware (resp)", "csp/middleware.py", "process_response"),
    ("SessionMiddleware (req)", "sessions/middleware.py", "process_request"),
    ("SessionMiddleware (resp)", "sessions/middleware.py", "process_response"),
    ("LocaleMiddleware (req)", "middleware/locale.py", "process_request"),
    ("LocaleMiddleware (resp)", "middleware/locale.py", "process_response"),
    ("ShopLocaleMiddleware (+ inner)", "sms4sats_site/locale.py", "__call__"),
    ("CommonMiddleware", "middleware/common.py", "process_request"),
    ("CsrfViewMiddleware", "middleware/csrf.py", "process_view"),
    ("CsrfViewMiddleware (resp)", "middleware/csrf.py", "process_response"),
    ("AuthenticationMiddleware", "auth/middleware.py", "process_request"),
    ("MessageMiddleware (resp)", "messages/middleware.py", "process_response"),
    ("HtmxMiddleware (+ inner)", "django_htmx/middleware.py", "__call__"),
    ("URL resolving", "urls/resolvers.py", "resolve"),
    ("view: order_status", "shop/views.py", "order_status"),
    ("status cache: Redis pipeline", "orders/status_cache.py", "poll"),
    ("Redis round trips (all)", "redis/client.py", "execute"),
    ("order row: database query", "db/backends/utils.py", "execute"),
    ("status_context", "shop/views.py", "status_context"),
    ("template render", "django/shortcuts.py", "render"),
    ("translation activate", "translation/trans_real.py", "activate"),
]


def profile_in_process(stack, orders, requests, profile_out=None):
    """cProfile ``requests`` requests of each kind through the shop's WSGI application, in this process."""
    import re
    from wsgiref.util import setup_testing_defaults

    from django.db import connection

    from sms4sats_site.wsgi import application as handler  # gunicorn's: unchanged polls skip most middleware

    queries = []  # one entry per query of the request being served: which answers read the database

    def counting(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    def call(path, version=None):
        environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "HTTP_HOST": "127.0.0.1", "HTTP_HX_REQUEST": "true"}
        environ["HTTP_ACCEPT_LANGUAGE"] = "en-US,en;q=0.9"
        environ["HTTP_ACCEPT_ENCODING"] = "gzip, deflate, br, zstd"
        if version:
            environ["HTTP_X_ORDER_VERSION"] = version
        setup_testing_defaults(environ)
        out = {}
        body = b"".join(handler(environ, lambda status, headers, exc_info=None: out.update(status=status)))
        return out["status"], body

    from shop.views import status_context

    paths = [f"/o/{o.public_id}/status" for o in orders]
    # The version each page shows, as the browser mix sends it.
    versions = {f"/o/{o.public_id}/status": status_context(o)["version"] for o in orders}
    trivial = "/ping" if call("/ping")[0].startswith("200") else "/bench-no-such-page"
    kinds = [
        ("trivial", lambda i: call(trivial)),
        ("browser mix", lambda i: call(paths[i % len(paths)], versions[paths[i % len(paths)]])),
        ("full render", lambda i: call(paths[i % len(paths)])),
    ]
    for name, request in kinds:
        for i in range(min(50, requests)):  # warm: templates loaded, connections open
            request(i)
        # CPU per request without the profiler (process time: what a saturated server runs out of; the
        # machine's load changes it much less than wall time).
        cpu_started = time.process_time()
        for i in range(requests):
            request(i)
        cpu_ms = 1000 * (time.process_time() - cpu_started) / requests
        profiler = cProfile.Profile()
        codes, reads = {}, {}
        started = time.perf_counter()
        profiler.enable()
        with connection.execute_wrapper(counting):
            for i in range(requests):
                queries.clear()
                status, _ = request(i)
                codes[status[:3]] = codes.get(status[:3], 0) + 1
                reads[status[:3]] = reads.get(status[:3], 0) + len(queries)
        profiler.disable()
        wall = time.perf_counter() - started
        stats = pstats.Stats(profiler)
        if profile_out:
            Path(profile_out).mkdir(parents=True, exist_ok=True)
            profiler.dump_stats(Path(profile_out) / f"{name.replace(' ', '-')}.prof")
        per_request = 1000 * wall / requests
        print(f"\n{name}: {requests} requests, {per_request:.2f} ms each under cProfile (codes {codes})")
        print(f"  CPU per request without the profiler: {cpu_ms:.3f} ms (this process, WSGI handler and below)")
        print("  database queries by answer: " + ", ".join(f"{reads[c]} for {n} answers {c}" for c, n in codes.items()))
        found = {}
        for (filename, _line, func), (_cc, ncalls, _tt, cumtime, _callers) in stats.stats.items():
            for label, suffix, wanted in PARTS:
                if func == wanted and filename.endswith(suffix):
                    calls, seconds = found.get(label, (0, 0.0))
                    found[label] = (calls + ncalls, seconds + cumtime)
        total = (
            max(
                found.get("WSGI handler, whole request", (0, 0))[1],
                found.get("lean status poll, whole request", (0, 0))[1],
            )
            or wall
        )
        for label, *_ in PARTS:
            if label in found:
                calls, seconds = found[label]
                print(
                    f"  {label:32s} {1000 * seconds / requests:7.3f} ms/request  {100 * seconds / total:5.1f}%  "
                    f"({calls / requests:.1f} calls/request)"
                )
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
        top = [ln for ln in out.getvalue().splitlines() if re.match(r"\s+\d", ln)]
        print("  most own time (ncalls tottime percall cumtime percall function):")
        print("\n".join("    " + ln.strip() for ln in top[:12]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--web-workers", type=int, default=GUNICORN_WORKERS, help="gunicorn workers (default 2)")
    parser.add_argument("--web-threads", type=int, default=GUNICORN_THREADS, help="threads per worker (default 4)")
    parser.add_argument("--py-spy", action="store_true", help="py-spy the gunicorn workers during the wrk runs")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile requests in this process instead of the wrk runs"
    )
    parser.add_argument("--requests", type=int, default=2000, help="requests of each kind for --profile")
    parser.add_argument("--profile-out", metavar="DIR", help="with --profile: write each kind's cProfile data here")
    parser.add_argument(
        "--compare-first-versions",
        action="store_true",
        help="also run the browser mix with the versions read before the run, never updated (the old mix)",
    )
    args = parser.parse_args()
    if args.profile:
        print(machine_line(), flush=True)
        with Stack("status_partial_profile", extra_env={"LOG_LEVEL": "ERROR"}) as stack:
            reset_orders()
            profile_in_process(stack, make_orders(args.orders), args.requests, args.profile_out)
            reset_orders()
        print(machine_line())
        return 0
    if subprocess.run(["which", "wrk"], capture_output=True).returncode:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    print(machine_line(), flush=True)
    # LOG_LEVEL=ERROR: without a /ping view the trivial page is a 404, which Django logs as a warning per request.
    with Stack("status_partial", extra_env={"LOG_LEVEL": "ERROR"}) as stack, tempfile.TemporaryDirectory() as tmp:
        stack.start_web(workers=args.web_workers, threads=args.web_threads)
        import httpx

        reset_orders()
        orders = make_orders(args.orders)
        # Each order's current version, read from its partial as a browser would.
        targets = {"full": Path(tmp) / "full.txt", "browser": Path(tmp) / "browser.txt"}
        states = {}
        with httpx.Client(base_url=stack.base_url, headers={"HX-Request": "true"}) as client:
            full, browser = [], []
            for order in orders:
                path = f"/o/{order.public_id}/status"
                response = client.get(path)
                if response.status_code not in (200, 286):
                    raise SystemExit(f"{path} answered {response.status_code}")
                version = re.search(r'data-version="([^"]+)"', response.text).group(1)
                full.append(path)
                browser.append(f"{path}\t{version}")
                states[order.status] = states.get(order.status, 0) + 1
            targets["full"].write_text("\n".join(full) + "\n")
            targets["browser"].write_text("\n".join(browser) + "\n")
            trivial = "/ping" if client.get("/ping").status_code == 200 else "/bench-no-such-page"
        trivial_label = "/ping" if trivial == "/ping" else "404 page (no /ping view)"
        print(
            f"gunicorn {stack.base_url}: {args.web_workers} workers x {args.web_threads} threads (gthread), "
            f"DEBUG off, PostgreSQL, Redis; wrk -t1, {args.seconds} s per run; {len(orders)} orders: "
            + ", ".join(f"{n} {s}" for s, n in sorted(states.items())),
            flush=True,
        )
        print(f"trivial view: {trivial_label}", flush=True)

        results, profiles = {}, {}
        runs = [
            ("trivial", trivial, None, "last"),
            ("partial full", None, targets["full"], "last"),
            ("partial browser", None, targets["browser"], "last"),
        ]
        if args.compare_first_versions:
            runs.append(("browser, first v.", None, targets["browser"], "first"))
        for connections in args.connections:
            for name, path, target, versions in runs:
                url = stack.base_url + (path or "/")
                spies = []
                if args.py_spy:
                    pids = [p.pid for p in stack.process_tree("web")[1:]]
                    label = f"pyspy-c{connections}-{name.replace(' ', '_')}"
                    spies = py_spy_start(pids, args.seconds, stack.dir, label)
                # Let the previous run's queued requests drain first: wrk opens its connections at the start, and
                # a gunicorn worker still busy then accepts none of them, so the other serves the whole run.
                time.sleep(PAUSE_SECONDS)
                result = wrk(url, connections, args.seconds, target, versions)
                for spy in spies:
                    spy.wait(30)
                if spies:
                    profiles[(connections, name)] = py_spy_summary(stack.dir.glob(f"{label}-*.txt"))
                results[(connections, name)] = result
                print(
                    f"  c={connections:<4d} {name:17s} {result['rps']:8.0f} req/s  p50 {result['p50_ms']:7.1f} ms  "
                    f"p99 {result['p99_ms']:7.1f} ms  errors {result['errors']}  codes {result['codes']}",
                    flush=True,
                )
        reset_orders()

    print()
    print(
        f"Status partial vs {trivial_label}, gunicorn {args.web_workers}x{args.web_threads}, "
        f"{args.seconds} s per run (ratio = partial rps / trivial rps; targets, #28: browser mix >= 0.8, "
        "full render >= 0.3):"
    )
    print(
        f"  {'conns':>5s} {'view':17s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'ratio':>6s} {'full renders':>17s}"
    )
    for connections in args.connections:
        base = results[(connections, "trivial")]["rps"]
        for name, *_ in runs:
            r = results[(connections, name)]
            rendered = r["codes"].get("200", 0) if name != "trivial" else 0
            answers = sum(r["codes"].values())
            print(
                f"  {connections:5d} {name:17s} {r['rps']:8.0f} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} "
                f"{r['rps'] / base:6.2f} {rendered:>7d} of {answers:<7d}"
            )
    for (connections, name), lines in profiles.items():
        print(
            f"\npy-spy, gunicorn workers, c={connections} {name} (share of busy samples with the function "
            "on the stack):"
        )
        print("\n".join("  " + line for line in lines))
    print(machine_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
