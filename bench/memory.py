#!/usr/bin/env python
"""Memory of the whole shop: PSS summed over the process tree of `make run` (bin/run.py), idle and with 200 open
order pages polling; or over the processes of a Compose stack's containers.

    .venv/bin/python bench/memory.py [--pages 200] [--seconds 60] [--idle-seconds 20] [--tree DIR] [--python PY]
    .venv/bin/python bench/memory.py --compose PROJECT [--exclude postgres,proxy,app_proxy,tor]
        [--poll-url http://127.0.0.1:18480 --order PUBLIC_ID [--pages 200 --seconds 60]]

`make run` mode: starts DIR/bin/run.py (default: this checkout; --tree runs another, e.g. an export of main for
a before/after; --python: the interpreter of a venv with the runtime packages only, as a fresh `make run` has)
on a free SHOP_BIND with a fresh VAR_DIR (SQLite there, the sandbox, its private Redis), waits
for "the shop is ready", warms it up (the home page, an order page, the admin login page; beat's start-up tasks),
then samples PSS every 2 s for --idle-seconds: "idle" is the largest total seen. Then --pages order pages poll as
browsers do (the mix of bench/status_partial.py: each page loads once, then asks for its status partial every 2 s
with HX-Request and the X-Order-Version it last received), for --seconds; "polling" is the largest total seen
meanwhile. Pages keep polling after a final answer (286), so the load stays at pages/2 requests per second.
The database is not counted: SQLite lives inside the shop's processes; with DATABASE_URL set to PostgreSQL its
server is not in the tree.

PSS (proportional set size, /proc/PID/smaps_rollup) counts a page shared by N processes as 1/N in each, so the
sum is what the shop really occupies; RSS would count the memory a forked pool shares with its parent again for
each child. Reading another user's smaps_rollup needs root (the Compose mode, usually).

Compose mode: the project's running containers (by their
``com.docker.compose.project`` label), each container's processes as host PIDs (`docker top ID -eo pid`), summed
the same way, one sample now (run it once idle, then again while bench pages poll through the proxy). Services in
--exclude are left out (the database, and what is not the shop: the TLS proxy, Umbrel's app_proxy, tor).
"""

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack import BASE_DIR, machine_line, percentile  # noqa: E402
from with_redis import free_port  # noqa: E402

SAMPLE_SECONDS = 2
READY = re.compile(rb"the shop is ready on (http://\S+?)/ ")
# What the polling pages' environment must not take from ours (as tests/test_run_heals.py does).
NOT_INHERITED = (
    "REDIS_URL",
    "DATABASE_URL",
    "SHOP_BIND",
    "PUBLIC_BASE_URL",
    "SMS4SATS_API_URL",
    "SANDBOX",
    "VAR_DIR",
    "CELERY_QUEUE",
    "CACHE_KEY_PREFIX",
    "DJANGO_SETTINGS_MODULE",
)


def pss(pid):
    """PSS of one process in bytes (0 if it is gone or unreadable)."""
    try:
        return psutil.Process(pid).memory_full_info().pss
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return 0


def label(proc, root_pid):
    """A short name: the supervised program (by its command line), and "child" for its pool's processes."""
    try:
        cmd = proc.cmdline()
        parent = proc.ppid()
    except psutil.Error:
        return "?"
    text = " ".join(cmd)
    if proc.pid == root_pid:
        return "supervisor (bin/run.py)"
    if "redis-server" in text:
        return "redis"
    if "gunicorn" in text:
        return "gunicorn master" if parent == root_pid else "gunicorn worker"
    if "celery" in text or "multiprocessing" in text or (cmd and "python" in cmd[0]):
        role = "beat" if " beat" in text else "celery"
        if role == "celery" and "-Q" in cmd:
            role = f"celery -Q {cmd[cmd.index('-Q') + 1]}"
        if parent == root_pid:
            return f"{role} (main)"
        return f"{role_of_parent(proc)} child"
    return text[:40]


def role_of_parent(proc):
    try:
        parent = proc.parent()
        cmd = parent.cmdline()
    except psutil.Error:
        return "?"
    text = " ".join(cmd)
    if " beat" in text and " worker" not in text:
        return "beat"
    return f"celery -Q {cmd[cmd.index('-Q') + 1]}" if "-Q" in cmd else "celery"


def tree_sample(root_pid):
    """[(pid, label, pss bytes)] for the supervisor and every process under it."""
    try:
        root = psutil.Process(root_pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    rows = []
    for proc in procs:
        # The beat process a worker embeds (-B) is a forked child whose command line is its parent's.
        name = label(proc, root_pid)
        try:
            if "celery" in name and "child" in name and "Beat" in proc.name():
                name = "beat (embedded, -B)"
        except psutil.Error:
            pass
        rows.append((proc.pid, name, pss(proc.pid)))
    return rows


def total(rows):
    return sum(size for _pid, _name, size in rows)


def mb(n):
    return f"{n / 2**20:7.1f}"


def print_table(title, rows):
    print(f"\n{title}: {mb(total(rows)).strip()} MB PSS in {len(rows)} processes")
    print(f"  {'process':34s} {'pid':>7s} {'PSS MB':>8s}")
    for pid, name, size in sorted(rows, key=lambda r: (r[1], r[0])):
        print(f"  {name:34s} {pid:7d} {mb(size):>8s}")


def sample_for(root_pid, seconds, load=None):
    """The sample with the largest total over ``seconds`` (one every SAMPLE_SECONDS)."""
    best = []
    deadline = time.monotonic() + seconds
    while True:
        rows = tree_sample(root_pid)
        if total(rows) > total(best):
            best = rows
        if time.monotonic() >= deadline or (load and load.done()):
            return best
        time.sleep(SAMPLE_SECONDS)


# --- the shop under `make run` ---------------------------------------------------------------------------


def start_shop(tree, var_dir, log_path, python=sys.executable):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env.update(SHOP_BIND=f"127.0.0.1:{port}", VAR_DIR=str(var_dir))
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [python, str(tree / "bin" / "run.py")],
        cwd=tree,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        match = READY.search(log_path.read_bytes())
        if match:
            return proc, match.group(1).decode(), env
        if proc.poll() is not None:
            raise SystemExit(f"bin/run.py exited with {proc.returncode}; see {log_path}")
        time.sleep(0.5)
    stop_shop(proc)
    raise SystemExit(f"the shop was not ready within 180 s; see {log_path}")


def stop_shop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def make_orders(env, count):
    """``count`` orders in the browser mix's states, written to the shop's database by Django in this process."""
    os.environ.update({k: v for k, v in env.items() if k in ("VAR_DIR", "DATABASE_URL", "SHOP_BIND")})
    os.environ["DJANGO_SETTINGS_MODULE"] = "sms4sats_site.settings"
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from status_partial import make_orders as mix

    return [str(order.public_id) for order in mix(count)][:count]


async def one_page(client, order_id, until, latencies, codes):
    """One open order page: the page itself, then its status partial every 2 s with the version it has."""
    response = await client.get(f"/o/{order_id}/")
    codes[response.status_code] = codes.get(response.status_code, 0) + 1
    version = None
    while time.monotonic() < until:
        headers = {"HX-Request": "true"}
        if version:
            headers["X-Order-Version"] = version
        started = time.monotonic()
        try:
            response = await client.get(f"/o/{order_id}/status", headers=headers)
        except httpx.HTTPError as exc:
            codes[type(exc).__name__] = codes.get(type(exc).__name__, 0) + 1
            await asyncio.sleep(2.0)
            continue
        latencies.append(time.monotonic() - started)
        codes[response.status_code] = codes.get(response.status_code, 0) + 1
        if response.content:
            found = response.headers.get("X-Order-Version") or re.search(r'data-version="([^"]+)"', response.text)
            version = found if isinstance(found, str) else (found.group(1) if found else version)
        await asyncio.sleep(max(0.0, 2.0 - (time.monotonic() - started)))


async def poll_pages(base_url, order_ids, seconds, latencies, codes):
    # A new connection per poll: gunicorn closes a kept-alive one after 2 s (its --keep-alive), just when the
    # next poll would reuse it.
    limits = httpx.Limits(max_connections=len(order_ids), max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:
        until = time.monotonic() + seconds
        pages = []
        for i, order_id in enumerate(order_ids):
            pages.append(asyncio.create_task(one_page(client, order_id, until, latencies, codes)))
            if i % 10 == 9:
                await asyncio.sleep(0.1)  # pages open over 2 s, not in one burst
        await asyncio.gather(*pages)


def run_shop(args):
    import threading

    tree = Path(args.tree).resolve()
    print(machine_line(), flush=True)
    with tempfile.TemporaryDirectory(prefix="memory-") as tmp:
        var_dir, log_path = Path(tmp) / "var", Path(tmp) / "run.log"
        proc, base_url, env = start_shop(tree, var_dir, log_path, args.python)
        try:
            print(f"{tree}/bin/run.py ready on {base_url} (VAR_DIR {var_dir})", flush=True)
            order_ids = make_orders(env, args.pages)
            with httpx.Client(base_url=base_url, timeout=30) as client:
                for path in ("/", f"/o/{order_ids[0]}/", "/admin/login/"):
                    client.get(path)
            time.sleep(args.warm_seconds)  # beat's start-up tasks (catalog, fiat rates) run and settle
            idle = sample_for(proc.pid, args.idle_seconds)
            print_table("idle", idle)

            latencies, codes, result = [], {}, {}

            def load():
                result["error"] = None
                try:
                    asyncio.run(poll_pages(base_url, order_ids, args.seconds, latencies, codes))
                except Exception as exc:  # reported below; the measurement still ends cleanly
                    result["error"] = repr(exc)

            thread = threading.Thread(target=load, daemon=True)
            thread.done = lambda: not thread.is_alive()
            thread.start()
            busy = sample_for(proc.pid, args.seconds + 5, load=thread)
            thread.join()
            print_table(f"{args.pages} pages polling every 2 s for {args.seconds} s (largest sample)", busy)
            if latencies:
                print(
                    f"  polls: {len(latencies)} ({len(latencies) / args.seconds:.0f}/s), p50 "
                    f"{1000 * percentile(latencies, 50):.0f} ms, p99 {1000 * percentile(latencies, 99):.0f} ms, "
                    f"codes {dict(sorted(codes.items(), key=str))}"
                    + (f", error {result['error']}" if result["error"] else "")
                )
            print(
                "\nRESULT "
                + json.dumps(
                    {
                        "tree": str(tree),
                        "idle_mb": round(total(idle) / 2**20, 1),
                        "idle_processes": len(idle),
                        "polling_mb": round(total(busy) / 2**20, 1),
                        "polling_processes": len(busy),
                        "pages": args.pages,
                        "p50_ms": round(1000 * percentile(latencies, 50)) if latencies else None,
                        "p99_ms": round(1000 * percentile(latencies, 99)) if latencies else None,
                        "load": [round(x, 2) for x in os.getloadavg()],
                    }
                ),
                flush=True,
            )
        finally:
            stop_shop(proc)
    print(machine_line())
    return 0


# --- a Compose stack ---------------------------------------------------------------------------------------


def docker(*argv):
    return subprocess.run(["docker", *argv], capture_output=True, text=True, check=True).stdout


def compose_rows(args):
    """[(pid, label, PSS bytes)] of the project's processes now (the --exclude services left out)."""
    excluded = {name.strip() for name in args.exclude.split(",") if name.strip()}
    rows = []
    # By the label every Compose (v1 docker-compose or the v2 plugin) puts on its containers.
    for cid in docker("ps", "-q", "--filter", f"label=com.docker.compose.project={args.compose}").split():
        info = json.loads(docker("inspect", cid))[0]
        service = info["Config"]["Labels"].get("com.docker.compose.service", info["Name"].lstrip("/"))
        if service in excluded:
            continue
        # `docker top` runs ps on the host: the PIDs are the host's.
        for line in docker("top", cid, "-eo", "pid,comm").splitlines()[1:]:
            pid, _, comm = line.strip().partition(" ")
            rows.append((int(pid), f"{service}: {comm.strip()}"[:34], pss(int(pid))))
    if not rows:
        raise SystemExit(f"no running containers in Compose project {args.compose!r}")
    return rows


def run_compose(args):
    if subprocess.run(["which", "docker"], capture_output=True).returncode:
        raise SystemExit("docker is not installed: the Compose mode needs it (and root, to read other users' PSS)")
    rows = compose_rows(args)
    unreadable = [pid for pid, _name, size in rows if size == 0]
    print(machine_line())
    print_table(f"Compose project {args.compose} idle (without {args.exclude})", rows)
    if unreadable:
        print(f"  {len(unreadable)} processes unreadable (counted as 0): run as root")
    result = {"compose": args.compose, "mb": round(total(rows) / 2**20, 1)}
    if args.poll_url:
        # --pages pages of --order (an order of that stack) poll through its proxy; the largest sample counts.
        import threading

        latencies, codes = [], {}
        order_ids = [args.order] * args.pages
        poller = threading.Thread(
            target=lambda: asyncio.run(poll_pages(args.poll_url, order_ids, args.seconds, latencies, codes))
        )
        poller.start()
        largest = rows
        while poller.is_alive():
            time.sleep(2)
            sample = compose_rows(args)
            if total(sample) > total(largest):
                largest = sample
        poller.join()
        print_table(f"{args.pages} pages polling every 2 s for {args.seconds} s (largest sample)", largest)
        print(f"  polls: {len(latencies)}, codes {codes}")
        result["polling_mb"] = round(total(largest) / 2**20, 1)
    print("\nRESULT " + json.dumps(result))
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=200, help="open order pages polling (default 200)")
    parser.add_argument("--seconds", type=int, default=60, help="how long they poll (default 60)")
    parser.add_argument("--warm-seconds", type=int, default=20, help="after the warm-up requests (default 20)")
    parser.add_argument("--idle-seconds", type=int, default=20, help="idle sampling (default 20)")
    parser.add_argument("--tree", default=str(BASE_DIR), help="the checkout whose bin/run.py to start")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="the interpreter that runs the shop (default: this one). The runtime packages alone, as `make run` "
        "installs them on a fresh machine: a venv of requirements-local.txt (this .venv also has the test tools, "
        "and the shop imports some when present: Pillow through qrcode, Pygments through httpx)",
    )
    parser.add_argument("--compose", metavar="PROJECT", help="measure a Compose project's containers instead")
    parser.add_argument("--exclude", default="postgres,proxy,app_proxy,tor", help="Compose services left out")
    parser.add_argument("--poll-url", help="Compose mode: the stack's base URL; --pages pages of --order poll it")
    parser.add_argument("--order", help="Compose mode: the public id of an order in that stack")
    args = parser.parse_args()
    return run_compose(args) if args.compose else run_shop(args)


if __name__ == "__main__":
    sys.exit(main())
