#!/usr/bin/env python
"""`make run`: the local shop, kept running until Ctrl-C.

Checks that the shop's address (SHOP_BIND) is free, migrates, creates a local admin (sandbox only), starts a
private Redis unless REDIS_URL is set, then the Procfile's processes (web; one Celery worker for both queues,
beat embedded). Their output comes to this terminal through this supervisor, which says where the shop listens
(and the new admin's password) once the workers are ready, so that the start-up banners do not scroll it away.

A process that dies is restarted after a pause (1, 2, 4… seconds), at most MAX_RESTARTS times in
RESTART_WINDOW seconds, with one line each time; past that the shop stops, with a line that says why.
Ctrl-C or SIGTERM stops everything (a second Ctrl-C kills at once). Each child runs in its own process group:
Ctrl-C reaches only this supervisor, which stops the shop's processes before their Redis, and a child is stopped
whole (gunicorn's and Celery's own processes too). A child also gets SIGTERM if the supervisor is killed.
"""

import contextlib
import ctypes
import errno
import importlib.util
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from with_redis import BASE_DIR, free_port, redis_answers, redis_argv, redis_server, var_dir  # noqa: E402

# The project's local_state module alone: importing the sms4sats_site package would load Celery in this supervisor.
_spec = importlib.util.spec_from_file_location("local_state", BASE_DIR / "sms4sats_site" / "local_state.py")
local_state = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(local_state)

VENV_BIN = Path(sys.executable).parent
DEFAULT_BIND = "127.0.0.1:8000"
MAX_RESTARTS = 5
RESTART_WINDOW = 5 * 60
STOP_SECONDS = 15
# The address is said when the web answers and every Celery worker has logged "ready.", or after this long.
READY_SECONDS = 45
READY_MARK = b" ready."


def say(message, stream=None):
    print(f"run: {message}", file=stream or sys.stdout, flush=True)


def die_with_parent():
    """In the child, before exec: get SIGTERM when the supervisor dies, even by SIGKILL (no orphans)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def ending(returncode):
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with code {returncode}"


class Output:
    """Copies the children's output to ours as it comes (one thread: a selector over their pipes)."""

    def __init__(self):
        self.selector = selectors.DefaultSelector()

    def follow(self, pipe, program):
        os.set_blocking(pipe.fileno(), False)
        self.selector.register(pipe, selectors.EVENT_READ, program)

    def pump(self, seconds):
        if not self.selector.get_map():
            time.sleep(seconds)
            return
        for key, _events in self.selector.select(seconds):
            chunk = os.read(key.fd, 65536)
            if not chunk:  # every process writing to it has ended
                self.selector.unregister(key.fileobj)
                key.fileobj.close()
                continue
            key.data.saw(chunk)
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()

    def drain(self):
        while self.selector.get_map():
            self.pump(0.5)


class Program:
    """One supervised process: its command, the running process, and its recent restarts."""

    def __init__(self, name, argv, env, output):
        self.name = name
        self.argv = argv
        self.env = env
        self.output = output  # an Output to pass its lines through, or an open log file
        self.proc = None
        self.restarts = deque()  # monotonic times of the restarts within RESTART_WINDOW
        self.restart_at = None
        self.ready = False  # said READY_MARK since it last started
        self._tail = b""

    def start(self):
        self.restart_at = None
        self.ready = False
        self._tail = b""
        piped = isinstance(self.output, Output)
        self.proc = subprocess.Popen(
            self.argv,
            cwd=BASE_DIR,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if piped else self.output,
            stderr=subprocess.STDOUT,
            process_group=0,
            preexec_fn=die_with_parent,
        )
        if piped:
            self.output.follow(self.proc.stdout, self)

    def saw(self, chunk):
        self.ready = self.ready or READY_MARK in self._tail + chunk
        self._tail = chunk[-len(READY_MARK) :]

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)

    def kill_leftovers(self):
        """SIGKILL what is left of the process group (say a gunicorn worker whose master was killed)."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def check(self, now):
        """Restart the process when it has died and its pause is over. False: it died too often, give up."""
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.start()
            return True
        if self.running():
            return True
        self.kill_leftovers()
        while self.restarts and now - self.restarts[0] > RESTART_WINDOW:
            self.restarts.popleft()
        minutes = RESTART_WINDOW // 60
        if len(self.restarts) >= MAX_RESTARTS:
            say(
                f"{self.name} {ending(self.proc.returncode)} after {MAX_RESTARTS} restarts in {minutes} minutes; "
                f"stopping the shop (see its messages above).",
                sys.stderr,
            )
            return False
        self.restarts.append(now)
        pause = 2 ** (len(self.restarts) - 1)
        say(
            f"{self.name} {ending(self.proc.returncode)}; restarting it in {pause} s "
            f"(restart {len(self.restarts)} of {MAX_RESTARTS} allowed in {minutes} minutes)."
        )
        self.restart_at = now + pause
        return True


def read_procfile(env, output):
    """The Procfile's processes, each run by sh (for its ${VAR:-default}), which then becomes the program."""
    programs = []
    for line in (BASE_DIR / "Procfile").read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() and not name.startswith("#"):
            programs.append(Program(name.strip(), ["/bin/sh", "-c", f"exec {command.strip()}"], env, output))
    return programs


def listen_address(bind):
    """(host, port) from gunicorn's --bind HOST:PORT; None for its other forms (unix:PATH, fd://N)."""
    host, _, port = bind.rpartition(":")
    if not port.isdigit() or host.startswith(("unix", "fd")):
        return None
    return host.strip("[]") or "0.0.0.0", int(port)


def address_problem(host, port):
    """Why the shop cannot listen on host:port, in one line naming SHOP_BIND; None when it can."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
        try:
            sock.bind((host, port))
            return None
        except OSError as exc:
            reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
    other = port + 1 if port < 65535 else 8001
    return f"the shop's address {host}:{port} {reason}. Set SHOP_BIND to another, e.g. SHOP_BIND=127.0.0.1:{other}"


def answers(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Announcement:
    """Where the shop listens (and the new admin's password), said once the web answers and the workers are
    ready, after READY_SECONDS, or at the stop, whichever comes first."""

    def __init__(self, address, bind, workers, extra_lines):
        self.address = address
        if address:
            host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(address[0], address[0])
            self.url = f"http://[{host}]:{address[1]}" if ":" in host else f"http://{host}:{address[1]}"
        else:
            self.url = os.environ.get("PUBLIC_BASE_URL") or bind
        self.workers = workers
        self.extra_lines = extra_lines
        self.deadline = time.monotonic() + READY_SECONDS
        self.next_try = 0
        self.shown = False

    def check(self, now):
        if self.shown or now < self.next_try:
            return
        self.next_try = now + 0.5
        if all(w.ready for w in self.workers) and (not self.address or answers(*self.address)):
            self.show(f"the shop is ready on {self.url}/ (admin: {self.url}/admin/). Ctrl-C stops it.")
        elif now > self.deadline:
            self.show(f"the shop is on {self.url}/ but not ready yet (see the messages above). Ctrl-C stops it.")

    def show(self, headline):
        if not self.shown:
            self.shown = True
            print(flush=True)
            say(headline)
            for line in self.extra_lines:
                say(line)
            print(flush=True)


def stop(programs, output, signals_received):
    """Stop every program (SIGTERM, SIGKILL after STOP_SECONDS or a second Ctrl-C), Redis last."""
    redis = [p for p in programs if p.name == "redis"]
    shop = [p for p in programs if p.name != "redis"]
    for group in (shop, redis):
        for program in group:
            program.restart_at = None
            program.signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        while any(p.running() for p in group) and time.monotonic() < deadline and len(signals_received) < 2:
            output.pump(0.1)
        for program in group:
            program.kill_leftovers()
            if program.proc is not None:
                program.proc.wait()
    output.drain()


def supervise(programs, output, announcement, signals_received):
    while not signals_received:
        now = time.monotonic()
        if not all(program.check(now) for program in programs):
            announcement.show("the shop did not stay up.")
            stop(programs, output, signals_received)
            return 1
        announcement.check(now)
        output.pump(0.2)
    say("stopping the shop…")
    announcement.show("the shop stopped.")
    stop(programs, output, signals_received)
    say("stopped.")
    return 0


def start_redis(env):
    """A private Redis (unless REDIS_URL is set), supervised like the rest; REDIS_URL points at it."""
    if env.get("REDIS_URL"):
        return None
    binary, _version, description = redis_server()
    port = free_port()
    log = open(Path(env["VAR_DIR"]) / "redis.log", "ab")
    redis = Program("redis", redis_argv(binary, port, env["VAR_DIR"]), env, output=log)
    redis.start()
    env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    say(f"private Redis at {env['REDIS_URL']}: {description}; its log: {log.name}")
    deadline = time.monotonic() + 15
    while not redis_answers(port) and redis.running() and time.monotonic() < deadline:
        time.sleep(0.1)
    return redis


def manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=True, capture_output=True, text=True
    ).stdout


def main():
    os.chdir(BASE_DIR)
    local_state.load_env_file()  # before anything reads the environment; the children inherit it
    bind = os.environ.get("SHOP_BIND") or DEFAULT_BIND
    address = listen_address(bind)
    if address and (problem := address_problem(*address)):
        say(problem, sys.stderr)
        return 1
    env = dict(
        os.environ,
        VAR_DIR=str(var_dir()),
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
    )
    try:
        manage("migrate", "--noinput", "-v", "0", env=env)
        admin_lines = manage("create_local_admin", env=env).splitlines()
    except subprocess.CalledProcessError as exc:
        sys.stderr.write(exc.stdout + exc.stderr)
        return exc.returncode
    except KeyboardInterrupt:
        return 130

    signals_received = []
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _frame: signals_received.append(signum))

    redis = start_redis(env)  # sets REDIS_URL for the others
    output = Output()
    shop = read_procfile(env, output)
    for program in shop:
        program.start()
    workers = [p for p in shop if " worker " in p.argv[-1]]
    announcement = Announcement(address, bind, workers, admin_lines)
    try:
        return supervise(([redis] if redis else []) + shop, output, announcement, signals_received)
    finally:
        if redis:
            redis.output.close()


if __name__ == "__main__":
    sys.exit(main())
