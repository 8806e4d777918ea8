"""A production-like stack for one benchmark run, started and stopped by the script that uses it.

PostgreSQL (database ``sms4sats_bench``, created if missing, migrated), Redis (127.0.0.1:6379 if it answers,
else a private one as bin/with_redis.py starts it), gunicorn serving the site with the sandbox as the
upstream, and real Celery workers and beat when asked. Every child runs in its own process group with its
own environment (a unique CELERY_QUEUE and CACHE_KEY_PREFIX), and is stopped when the run ends: normally,
on an exception, on Ctrl-C or SIGTERM, and (through PR_SET_PDEATHSIG) even if the script is killed.

Environment knobs: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/sms4sats_bench),
BENCH_REDIS_URL (default redis://127.0.0.1:6379/0 if it answers, else a private Redis).
"""

import contextlib
import ctypes
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

BASE_DIR = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/sms4sats_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# gunicorn as in the Procfile: 2 processes x 4 threads (gthread) on this 2-core machine.
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 4
CELERY_CONCURRENCY = 2  # as in the Procfile (prefork)

sys.path.insert(0, str(BASE_DIR / "bin"))
sys.path.insert(0, str(BASE_DIR))


def free_port():
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port != 8000:
            return port


def port_answers(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _die_with_parent():
    """In the child, before exec: get SIGTERM if the bench script dies (even by SIGKILL)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def ensure_database(url):
    """CREATE DATABASE if it is missing (connecting to the server's 'postgres' database)."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"Created database {name}.", flush=True)


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, int(round(p / 100 * len(ordered) + 0.4999)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(values):
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def machine_line():
    load = os.getloadavg()
    return (
        f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


class Stack:
    """Use as a context manager; ``start_web()``, ``start_workers()``, ``start_beat()`` inside."""

    def __init__(self, name, *, extra_env=None):
        self.name = name
        self.run_id = f"{name}-{uuid.uuid4().hex[:6]}"
        self.dir = BASE_DIR / "var" / "bench" / self.run_id
        self.procs = {}  # label -> Popen
        self.logs = {}
        self.extra_env = dict(extra_env or {})
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._exit = contextlib.ExitStack()
        self.redis_url = None
        self.env = None

    # --- setup ----------------------------------------------------------------------------------

    def __enter__(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        self._previous_handlers = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
        # Ctrl-C raises KeyboardInterrupt even when the script was started with SIGINT ignored (in the background).
        self._previous_handlers[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            self._setup()
        except BaseException:
            self.__exit__(*sys.exc_info())
            raise
        return self

    def _on_signal(self, signum, _frame):
        raise SystemExit(f"Stopped by signal {signum}.")

    def _setup(self):
        database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
        ensure_database(database_url)
        self.redis_url = os.environ.get("BENCH_REDIS_URL")
        if not self.redis_url:
            if port_answers("127.0.0.1", 6379):
                self.redis_url = DEFAULT_REDIS_URL
            else:
                from with_redis import embedded_redis

                self.redis_url = self._exit.enter_context(embedded_redis())
                print(f"Started a private Redis at {self.redis_url}.", flush=True)
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("SMS4SATS_API_URL", "SMS4SATS_API_KEY", "SMS4SATS_REF", "DJANGO_SETTINGS_MODULE")
        }
        env.update(
            {
                "DATABASE_URL": database_url,
                "REDIS_URL": self.redis_url,
                "PUBLIC_BASE_URL": self.base_url,
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SANDBOX": "on",
                "DEBUG": "false",
                "CELERY_QUEUE": f"sms4sats-bench-{self.run_id}",
                "CACHE_KEY_PREFIX": f"sms4sats-bench-{self.run_id}",
                "LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
                "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            }
        )
        env.update(self.extra_env)
        self.env = env
        # This process uses the ORM on the same database, with the same settings.
        os.environ.clear()
        os.environ.update(env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "sms4sats_site.settings"
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", "--noinput", verbosity=0)

    # --- children -------------------------------------------------------------------------------

    def spawn(self, label, argv, env_overrides=None):
        log_path = self.dir / f"{label}.log"
        log = open(log_path, "ab")
        self.logs[label] = log_path
        env = dict(self.env, **(env_overrides or {}))
        proc = subprocess.Popen(
            argv,
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        log.close()
        self.procs[label] = proc
        return proc

    def start_web(self, *, workers=GUNICORN_WORKERS, threads=GUNICORN_THREADS, access_log=False, env=None):
        argv = [
            str(VENV_BIN / "gunicorn"),
            "sms4sats_site.wsgi",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--error-logfile",
            "-",
            "--backlog",
            "2048",
        ]
        if access_log:
            self.access_log = self.dir / "access.log"
            argv += ["--access-logfile", str(self.access_log), "--access-logformat", '%(t)s "%(r)s" %(s)s %(L)s']
        proc = self.spawn("web", argv, env)
        self.wait_http(self.base_url + "/sandbox/api", proc)
        return proc

    def start_workers(self, *, concurrency=CELERY_CONCURRENCY, loglevel="INFO", env=None):
        argv = [
            str(VENV_BIN / "celery"),
            "-A",
            "sms4sats_site",
            "worker",
            "--loglevel",
            loglevel,
            "--concurrency",
            str(concurrency),
            "--without-mingle",
            "--without-gossip",
            "--without-heartbeat",
            "-n",
            f"{self.run_id}@%h",
        ]
        proc = self.spawn("worker", argv, dict({"LOG_LEVEL": "INFO"}, **(env or {})))
        self.wait_log("worker", b"ready.", proc)
        return proc

    def start_beat(self, env=None):
        argv = [
            str(VENV_BIN / "celery"),
            "-A",
            "sms4sats_site",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(self.dir / "celerybeat-schedule"),
        ]
        return self.spawn("beat", argv, env)

    def wait_http(self, url, proc, seconds=60):
        import httpx

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn exited at start (code {proc.returncode}); see {self.logs['web']}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{url} did not answer within {seconds} s; see {self.logs['web']}")

    def wait_log(self, label, marker, proc, seconds=60):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"{label} exited at start (code {proc.returncode}); see {self.logs[label]}")
            if marker in self.logs[label].read_bytes():
                return
            time.sleep(0.2)
        raise SystemExit(f"{label} not ready within {seconds} s; see {self.logs[label]}")

    def stop(self, label, timeout=20):
        proc = self.procs.pop(label, None)
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Whatever the leader left behind in its group (pool children) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    # --- teardown -------------------------------------------------------------------------------

    def __exit__(self, *exc):
        # Ctrl-C during teardown must not leave children behind.
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for label in ("beat", "worker", "web", *list(self.procs)):
                self.stop(label)
            self._cleanup_redis()
            with contextlib.suppress(Exception):
                from django.db import connections

                connections.close_all()
            self._exit.close()
        finally:
            signal.signal(signal.SIGINT, previous_int)
            for sig, handler in getattr(self, "_previous_handlers", {}).items():
                signal.signal(sig, handler)
        return False

    def _cleanup_redis(self):
        """Remove this run's queue and cache keys (never FLUSHDB: the Redis may be shared)."""
        if not self.env:
            return
        with contextlib.suppress(Exception):
            import redis

            client = redis.Redis.from_url(self.redis_url, socket_timeout=2)
            for pattern in (f"*{self.env['CACHE_KEY_PREFIX']}*", f"*{self.env['CELERY_QUEUE']}*"):
                keys = list(client.scan_iter(match=pattern, count=1000))
                if keys:
                    client.delete(*keys)

    # --- helpers --------------------------------------------------------------------------------

    def process_tree(self, label):
        import psutil

        proc = self.procs.get(label)
        if proc is None or proc.poll() is not None:
            return []
        try:
            leader = psutil.Process(proc.pid)
            return [leader, *leader.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


def reset_orders():
    """Empty the shop's and the sandbox's order tables (the bench database only)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE orders_orderevent, orders_order, sandbox_sandboxorder RESTART IDENTITY CASCADE")


def make_active_receive_orders(count, *, paid_at, status="waiting_code", next_poll_at=None, shop_paid_at=None):
    """``count`` receive orders paid at ``paid_at`` (a datetime, or a list of one per order): a SandboxOrder
    each and the shop's Order in ``status``, due at ``next_poll_at``. Returns the shop orders' upstream ids."""
    import hashlib
    from datetime import timedelta

    from django.utils import timezone

    from orders.models import Kind, Order
    from sandbox.models import SandboxOrder

    now = timezone.now()
    paid = paid_at if isinstance(paid_at, list) else [paid_at] * count
    sandbox_rows, shop_rows = [], []
    for i in range(count):
        preimage = os.urandom(32)
        order_id = hashlib.sha256(preimage).hexdigest()
        created = paid[i] - timedelta(seconds=5)
        sandbox_rows.append(
            SandboxOrder(
                kind=SandboxOrder.RECEIVE,
                order_id=order_id,
                preimage=preimage.hex(),
                payreq="",
                amount=2000,
                description="bench",
                country=187,
                service="tg",
                created_at=created,
                expires_at=created + timedelta(minutes=15),
                paid_at=paid[i],
            )
        )
        shop_rows.append(
            Order(
                kind=Kind.RECEIVE,
                status=status,
                country_code=187,
                country_name="USA",
                service_code="tg",
                service_name="Telegram",
                quoted_sats=2000,
                invoice_sats=2000,
                payment_hash=order_id,
                upstream_id=order_id,
                created_at=created,
                paid_at=shop_paid_at or paid[i],
                invoice_expires_at=created + timedelta(minutes=15),
                number="12025550123" if status == "waiting_code" else "",
                number_at=now if status == "waiting_code" else None,
                next_poll_at=next_poll_at or now,
                session_key="bench",
            )
        )
    SandboxOrder.objects.bulk_create(sandbox_rows, batch_size=1000)
    Order.objects.bulk_create(shop_rows, batch_size=1000)
    return [row.order_id for row in sandbox_rows]


def py_spy_start(pids, seconds, out_dir, label):
    """Sample processes with py-spy (pip install py-spy) for ``seconds``; returns the Popen handles."""
    import shutil

    binary = shutil.which("py-spy") or str(VENV_BIN / "py-spy")
    if not Path(binary).exists():
        raise SystemExit("py-spy is not installed: .venv/bin/pip install py-spy")
    return [
        subprocess.Popen(
            [
                binary,
                "record",
                "--pid",
                str(pid),
                "-d",
                str(int(seconds)),
                "-r",
                "200",
                "--nonblocking",
                "--format",
                "raw",
                "-o",
                str(out_dir / f"{label}-{pid}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in pids
    ]


def py_spy_summary(files, top=15):
    """The functions with the most samples on the stack (inclusive), skipping idle waits, as text lines."""
    import collections

    inclusive, total = collections.Counter(), 0
    idle = ("select (selectors", "wait (threading", "_worker (concurrent", "accept (socket", "poll (selectors")
    for name in files:
        if not Path(name).exists():
            continue
        for line in Path(name).read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            frames = stack.split(";")
            if any(frames[-1].startswith(word) for word in idle):
                continue
            total += int(count)
            for frame in set(frames):
                inclusive[frame] += int(count)
    lines = [f"{total} busy samples"]
    for frame, count in inclusive.most_common(top + 25):
        if any(word in frame for word in ("_bootstrap", "Thread.run", "(threading.py", "gunicorn/", "<module>")):
            continue
        lines.append(f"{100 * count / max(1, total):5.1f}%  {frame}")
    return lines[: top + 1]
