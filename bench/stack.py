"""A production-like stack for one benchmark run, started and stopped by the script that uses it.

PostgreSQL (database ``sms4sats_bench``, created if missing, migrated), Redis (127.0.0.1:6379 if it answers,
else a private redis-server, a child of the run), gunicorn serving the site with the sandbox as the upstream,
and real Celery workers and beat when asked. Every child runs in its own process group with its own
environment (a unique CELERY_QUEUE and CACHE_KEY_PREFIX), and is stopped when the run ends: normally, on an
exception, on Ctrl-C or SIGTERM, and (through PR_SET_PDEATHSIG) even if the script is killed.

For fault runs (bench/faults.py) the same stack can also: run its own Redis that can be killed and started
again empty (``private_redis``); put a TCP proxy between the shop and PostgreSQL (``proxy_database``) and
between the shop and the sandbox upstream (``proxy_upstream``), so either can refuse connections for a while
(``stack.database.refuse()`` / ``stack.upstream.refuse()``, then ``.start()``); run the shop with settings
overridden by a module written to the run directory (``settings_overrides``); kill a child (``kill``).

Environment knobs: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/sms4sats_bench),
BENCH_REDIS_URL (default redis://127.0.0.1:6379/0 if it answers, else a private Redis).
"""

import contextlib
import ctypes
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime
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
SANDBOX_API_KEY = "sandbox-api-key"  # settings.SANDBOX_API_KEY: needed once SMS4SATS_API_URL is set

sys.path.insert(0, str(BASE_DIR / "bin"))
sys.path.insert(0, str(BASE_DIR))

from with_redis import free_port, redis_argv, redis_server_binary  # noqa: E402


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


class TcpProxy:
    """A TCP proxy on 127.0.0.1 in front of ``target``, which can refuse connections for a while: ``refuse()``
    stops listening (connect() is refused) and cuts every open connection, as a restart of the server would;
    ``start()`` listens again on the same port."""

    def __init__(self, target):
        self.target = target
        self.port = 0  # chosen by the first bind, then kept across restarts
        self.conns = set()
        self.lock = threading.Lock()
        self.listener = None
        self.accepting = threading.Event()

    def start(self):
        self.listener = socket.create_server(("127.0.0.1", self.port), backlog=128)
        self.port = self.listener.getsockname()[1]
        self.listener.settimeout(0.2)
        self.accepting.set()
        threading.Thread(target=self._accept_loop, args=(self.listener,), daemon=True).start()

    def _accept_loop(self, listener):
        while self.accepting.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
                client.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with self.lock:
                    self.conns.discard(sock)

    def refuse(self):
        """Returns how many connections were cut."""
        if not self.accepting.is_set():
            return 0
        self.accepting.clear()
        self.listener.close()
        with self.lock:
            conns = list(self.conns)
        for sock in conns:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return len(conns) // 2


class Stack:
    """Use as a context manager; ``start_web()``, ``start_workers()``, ``start_beat()`` inside.

    ``database_url``: default BENCH_DATABASE_URL or sms4sats_bench. ``extra_env``: the shop's environment on
    top of the stack's. ``settings_overrides``: Python source of a settings module that starts with
    ``from sms4sats_site.settings import *``; the shop's processes and this one run with it."""

    def __init__(
        self,
        name,
        *,
        extra_env=None,
        database_url=None,
        private_redis=False,
        proxy_database=False,
        proxy_upstream=False,
        settings_overrides=None,
    ):
        self.name = name
        self.run_id = f"{name}-{uuid.uuid4().hex[:6]}"
        self.dir = BASE_DIR / "var" / "bench" / self.run_id
        self.procs = {}  # label -> Popen
        self.logs = {}
        self.extra_env = dict(extra_env or {})
        self.database_url = database_url or os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
        self.private_redis = private_redis
        self.settings_overrides = settings_overrides
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        pg = urlsplit(self.database_url)
        self.database = TcpProxy((pg.hostname or "127.0.0.1", pg.port or 5432)) if proxy_database else None
        self.upstream = TcpProxy(("127.0.0.1", self.port)) if proxy_upstream else None
        self.redis_port = None
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
        ensure_database(self.database_url)
        self.redis_url = None if self.private_redis else os.environ.get("BENCH_REDIS_URL")
        if not self.redis_url:
            if not self.private_redis and port_answers("127.0.0.1", 6379):
                self.redis_url = DEFAULT_REDIS_URL
            else:
                self.redis_port = free_port()
                self.start_redis()
                self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
                print(f"Started a private Redis at {self.redis_url}.", flush=True)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SMS4SATS_", "SANDBOX", "DJANGO_", "BENCH_", "FAULTS_"))
        }
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "PUBLIC_BASE_URL": self.base_url,
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SANDBOX": "on",
                "DEBUG": "false",
                "CELERY_QUEUE": f"sms4sats-bench-{self.run_id}",
                "CACHE_KEY_PREFIX": f"sms4sats-bench-{self.run_id}",
                "LOG_LEVEL": "WARNING",
                "VAR_DIR": str(self.dir / "var"),
                "PYTHONUNBUFFERED": "1",
                "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                "DJANGO_SETTINGS_MODULE": "sms4sats_site.settings",
            }
        )
        if self.settings_overrides:
            (self.dir / "bench_settings.py").write_text(self.settings_overrides)
            env["DJANGO_SETTINGS_MODULE"] = "bench_settings"
            env["PYTHONPATH"] = os.pathsep.join([str(self.dir), str(BASE_DIR)])
            sys.path.insert(0, str(self.dir))
        if self.upstream:
            self.upstream.start()
            env["SMS4SATS_API_URL"] = f"http://127.0.0.1:{self.upstream.port}/sandbox/api"
            env["SMS4SATS_API_KEY"] = SANDBOX_API_KEY
        env.update(self.extra_env)
        # This process uses the ORM on the same database, with the same settings, never through the proxy: the
        # bench's own reads and checks are not under test.
        os.environ.clear()
        os.environ.update(env)
        if self.database:
            self.database.start()
            pg = urlsplit(self.database_url)
            netloc = pg.netloc.rpartition("@")[0] + "@" if "@" in pg.netloc else ""
            env["DATABASE_URL"] = urlunsplit(pg._replace(netloc=f"{netloc}127.0.0.1:{self.database.port}"))
        self.env = env
        import django

        from sms4sats_site import local_state

        local_state.prepare()  # this script is an entry point too: VAR_DIR and the key its children share
        django.setup()
        from django.core.management import call_command

        call_command("migrate", "--noinput", verbosity=0)

    # --- children -------------------------------------------------------------------------------

    def spawn(self, label, argv, env_overrides=None):
        log_path = self.dir / f"{label}.log"
        log = open(log_path, "ab")
        self.logs[label] = log_path
        env = dict(self.env or os.environ, **(env_overrides or {}))
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

    def start_redis(self):
        """The private Redis (again, empty, on the same port after a ``kill("redis")``)."""
        argv = redis_argv(redis_server_binary(), self.redis_port, str(self.dir))
        proc = self.spawn("redis", argv, dict(os.environ))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"redis-server exited at start (code {proc.returncode}); see {self.logs['redis']}")
            if port_answers("127.0.0.1", self.redis_port):
                return proc
            time.sleep(0.05)
        raise SystemExit(f"redis-server did not answer within 15 s; see {self.logs['redis']}")

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

    def start_workers(
        self, *, label="worker", concurrency=CELERY_CONCURRENCY, queues=None, loglevel="INFO", env=None, wait=True
    ):
        """A Celery worker (prefork). ``queues``: the queue names it consumes (default: the shop's queue);
        ``wait=False`` returns at once (a restart in the middle of a fault run)."""
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
            f"{label}-{self.run_id}@%h",
        ]
        if queues:
            argv += ["-Q", ",".join(queues)]
        log_path = self.dir / f"{label}.log"
        offset = log_path.stat().st_size if log_path.exists() else 0
        proc = self.spawn(label, argv, dict({"LOG_LEVEL": "INFO"}, **(env or {})))
        if wait:
            self.wait_log(label, b"ready.", proc, offset=offset)
        return proc

    def start_creator(self, *, label="creator", concurrency=1, env=None, wait=True):
        """The worker of the creation queue (creating and canceling orders), as the Procfile's "creator"."""
        from django.conf import settings

        return self.start_workers(
            label=label, concurrency=concurrency, queues=[settings.CELERY_CREATE_QUEUE], env=env, wait=wait
        )

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

    def wait_log(self, label, marker, proc, seconds=60, offset=0):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"{label} exited at start (code {proc.returncode}); see {self.logs[label]}")
            with open(self.logs[label], "rb") as log:
                log.seek(offset)
                if marker in log.read():
                    return
            time.sleep(0.2)
        raise SystemExit(f"{label} not ready within {seconds} s; see {self.logs[label]}")

    def kill(self, label, sig=signal.SIGKILL):
        """Send ``sig`` to a child's whole process group (a crash, with SIGKILL) and wait for it to end."""
        proc = self.procs.get(label)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

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

    def still_running(self):
        return [label for label, proc in self.procs.items() if proc.poll() is None]

    # --- teardown -------------------------------------------------------------------------------

    def __exit__(self, *exc):
        # Ctrl-C during teardown must not leave children behind.
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            workers = [label for label in self.procs if label not in ("beat", "web", "redis")]
            for label in ("beat", *workers, "web"):
                self.stop(label)
            if self.redis_port:
                self.stop("redis")  # the run's own Redis: nothing to clean up
            else:
                self._cleanup_redis()
            for proxy in (self.database, self.upstream):
                if proxy:
                    with contextlib.suppress(Exception):
                        proxy.refuse()
            with contextlib.suppress(Exception):
                from django.db import connections

                connections.close_all()
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


LOG_TIME = rb"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): "
TICK_LINE = re.compile(LOG_TIME + rb"INFO/MainProcess\] Scheduler: Sending due task poll-due-orders", re.M)
CYCLE_DONE = re.compile(LOG_TIME + rb".*poll_due_orders\[[^\]]+\] succeeded in ([0-9.]+)s: (\{[^}]*\}|None)", re.M)
CYCLE_EXPIRED = re.compile(rb"poll_due_orders\[[^\]]+\] expired|Discarding revoked task: orders\.tasks\.poll_due")


def _log_time(raw):
    return datetime.strptime(raw.decode(), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def cycle_rhythm(beat_log, worker_logs):
    """How well the engine kept the beat's rhythm, from beat's and the workers' logs (LOG_TASKS on): for each
    poll cycle that claimed orders, how long after its tick it started (a cycle that starts late makes its
    orders due late, and the next tick's cycle, if on time, can miss them: a whole extra tick); ticks whose task
    found every cycle slot taken or expired unstarted. A line of text, or "" without the lines."""
    ticks = [_log_time(t) for t in TICK_LINE.findall(Path(beat_log).read_bytes())]
    starts, idle, expired = [], 0, 0
    for log in worker_logs:
        text = Path(log).read_bytes()
        expired += len(CYCLE_EXPIRED.findall(text))
        for at, seconds, report in CYCLE_DONE.findall(text):
            if report == b"None":
                idle += 1
            elif b"'claimed': 0," not in report:
                starts.append(_log_time(at) - float(seconds))
    ticks.sort()
    delays = []
    for start in starts:
        before = [t for t in ticks if t <= start]
        if before:
            delays.append(start - before[-1])
    if not delays:
        return ""
    late = sum(1 for d in delays if d > 0.25)
    return (
        f"  poll cycles that claimed orders: {len(delays)} of {len(ticks)} ticks; start after their tick p50 "
        f"{percentile(delays, 50) * 1000:.0f} ms, p95 {percentile(delays, 95) * 1000:.0f} ms, max "
        f"{max(delays) * 1000:.0f} ms ({late} later than 250 ms); ticks with every cycle slot taken: {idle}, "
        f"expired unstarted: {expired}"
    )
