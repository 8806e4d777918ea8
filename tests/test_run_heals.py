"""`make run` (bin/run.py) heals: a process that dies is restarted, its private Redis included; Ctrl-C leaves
nothing running; a busy address is said in one line; routine task lines stay out of the terminal; the sandbox
is asked where the shop really listens (SHOP_BIND).

The fault test starts the real supervisor, as `make run` does, on a free port with its own VAR_DIR (SQLite and a
private Redis there) in its own session, so every process it starts can be found and none can be left behind.
"""

import contextlib
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sms4sats_site.settings import BASE_DIR

sys.path.insert(0, str(BASE_DIR / "bin"))
import run  # noqa: E402
from with_redis import free_port  # noqa: E402

# What the test's own run sets (a shared Redis, a test queue) must not reach the shop: it starts its own.
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
    "LOG_LEVEL",
    "LOG_TASKS",
    "DJANGO_SETTINGS_MODULE",
)


def shop_env(tmp_path, port, **extra):
    env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    env.update(SHOP_BIND=f"127.0.0.1:{port}", VAR_DIR=str(tmp_path / "var"), **extra)
    return env


def session_processes(sid):
    """{pid: (process group, command line)} of the live processes of a session (zombies are gone already)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        state, pgrp, session = fields[0], int(fields[2]), int(fields[3])
        if session == sid and state != "Z":
            found[int(stat.parent.name)] = (pgrp, cmdline)
    return found


def leader_pid(sid, pattern):
    """The pid of the supervised program whose command line matches (a process group leader), or None."""
    for pid, (pgrp, cmdline) in session_processes(sid).items():
        if pid == pgrp and pid != sid and re.search(pattern, cmdline):
            return pid
    return None


def wait_for(what, predicate, seconds, log_path):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-60:])
    pytest.fail(f"{what}: not within {seconds} s. Last lines of the shop's output:\n{tail}")


def healthz(base_url):
    try:
        return httpx.get(base_url + "/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def shop(tmp_path):
    """bin/run.py on a free port in its own session: (process, base URL, output path). Killed whole at the end."""
    port = free_port()
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "bin/run.py"],
            cwd=BASE_DIR,
            env=shop_env(tmp_path, port),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc, f"http://127.0.0.1:{port}", log_path
    finally:
        for pid in session_processes(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(10)


def test_run_restarts_the_worker_and_redis_and_ctrl_c_stops_everything(shop):
    proc, base_url, log_path = shop
    sid = proc.pid
    output = log_path.read_text

    wait_for("/healthz 200 with a live worker", lambda: healthz(base_url), 180, log_path)
    # The address said once the workers are ready is the one the shop listens on (SHOP_BIND), not :8000.
    wait_for("the ready line", lambda: f"the shop is ready on {base_url}/" in output(), 60, log_path)
    assert "Log in at " + base_url + "/admin/" in output()

    # The shop asks its own sandbox, where it listens: the web's call shows in its own access log.
    assert httpx.get(base_url + "/", timeout=30).status_code == 200
    wait_for("a call to this shop's sandbox", lambda: '"GET /sandbox/api' in output(), 30, log_path)

    # One Celery worker for both queues, beat embedded in it (-B): killed, it is restarted, beat with it.
    worker = leader_pid(sid, r"celery .* worker .*-B")
    assert worker
    os.kill(worker, signal.SIGKILL)
    new_worker = wait_for(
        "worker restarted", lambda: leader_pid(sid, r"celery .* worker .*-B") not in (None, worker), 30, log_path
    )
    assert new_worker
    assert "run: worker was killed by SIGKILL; restarting it in 1 s (restart 1 of 5" in output()
    assert httpx.get(base_url + "/", timeout=30).status_code == 200, "the web kept running"

    redis = leader_pid(sid, r"redis-server ")
    assert redis
    os.kill(redis, signal.SIGKILL)
    wait_for("Redis restarted", lambda: leader_pid(sid, r"redis-server ") not in (None, redis), 30, log_path)
    assert "run: redis was killed by SIGKILL; restarting it" in output()
    # A fresh, empty Redis: healthy again once the worker reconnected and its beat sent a new heartbeat.
    wait_for("/healthz 200 after the Redis restart", lambda: healthz(base_url), 120, log_path)

    # Routine task lines stay out of the terminal (the poll task runs every 2 s).
    assert " succeeded in " not in output()
    assert "Sending due task" not in output()

    # Ctrl-C, as a terminal sends it: to the foreground process group.
    children = set(session_processes(sid)) - {sid}
    assert len(children) >= 3  # redis, web, worker (and their own processes)
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(60) == 0
    wait_for("every process of the shop gone", lambda: not session_processes(sid), 10, log_path)
    assert output().rstrip().endswith("run: stopped.")
    with pytest.raises(ConnectionRefusedError):  # nothing listens on the shop's port any more
        socket.create_connection(("127.0.0.1", int(base_url.rsplit(":", 1)[1])), timeout=5)


def test_make_run_keeps_creation_apart_from_polling():
    """The Procfile's one worker: both queues, prefork (time limits enforced), at least 2 processes, each task
    given to a free process only (-O fair). A poll cycle runs in one process at a time (polling.poll_cycle's lock),
    so a paid order's creation always finds a process that is not in a poll cycle."""
    programs = {p.name: p.argv[-1] for p in run.read_procfile(dict(os.environ), None)}
    assert set(programs) == {"web", "worker"}
    worker = programs["worker"].split()
    assert worker[worker.index("-Q") + 1] == "${CELERY_QUEUE:-sms4sats},${CELERY_QUEUE:-sms4sats}-create"
    assert worker[worker.index("-O") + 1] == "fair"
    assert "--pool" not in worker and "-P" not in worker  # prefork, Celery's default
    assert worker[worker.index("--concurrency") + 1] == "${WORKER_CONCURRENCY:-2}"
    assert "-B" in worker  # beat embedded: exactly one, as make run has one worker


def test_a_process_that_keeps_dying_is_restarted_5_times_in_5_minutes_then_the_shop_stops(capsys):
    with open(os.devnull, "wb") as devnull:
        flaky = run.Program("flaky", ["/bin/sh", "-c", "exit 3"], dict(os.environ), devnull)
        flaky.start()
        now = 1000.0
        for restart in range(1, 6):
            flaky.proc.wait()
            assert flaky.check(now)
            assert flaky.restart_at == now + 2 ** (restart - 1)  # 1, 2, 4, 8, 16 s
            now = flaky.restart_at
            assert flaky.check(now)  # restarted
        flaky.proc.wait()
        assert not flaky.check(now)  # the sixth end within 5 minutes: give up
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        f"run: flaky exited with code 3; restarting it in {2 ** (n - 1)} s (restart {n} of 5 allowed in 5 minutes)."
        for n in range(1, 6)
    ]
    assert (
        err
        == "run: flaky exited with code 3 after 5 restarts in 5 minutes; stopping the shop (see its messages above).\n"
    )


def test_restarts_older_than_5_minutes_do_not_count():
    with open(os.devnull, "wb") as devnull:
        flaky = run.Program("flaky", ["/bin/sh", "-c", "exit 3"], dict(os.environ), devnull)
        flaky.start()
        now = 1000.0
        for _ in range(12):  # one end every 6 minutes, for over an hour
            flaky.proc.wait()
            assert flaky.check(now)
            assert flaky.restart_at == now + 1
            flaky.check(now + 1)
            now += 6 * 60


def test_busy_address_is_said_in_one_line_naming_shop_bind(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "bin/run.py"],
            cwd=BASE_DIR,
            env=shop_env(tmp_path, port),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"run: the shop's address 127.0.0.1:{port} is already in use. "
        f"Set SHOP_BIND to another, e.g. SHOP_BIND=127.0.0.1:{port + 1}"
    ]
    assert not (tmp_path / "var" / "redis.log").exists()  # nothing was started


def settings_say(expression, **env):
    """The value of a Python expression on the settings read with these variables (and their LOGGING applied)."""
    code = (
        "import logging.config; from sms4sats_site import settings; "
        f"logging.config.dictConfig(settings.LOGGING); print({expression})"
    )
    base = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=dict(base, **env), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_sandbox_address_follows_shop_bind():
    assert settings_say("settings.SMS4SATS_API_URL", SHOP_BIND="127.0.0.1:8123") == "http://127.0.0.1:8123/sandbox/api"
    # Listening on every address: the shop calls itself on the loopback.
    assert settings_say("settings.PUBLIC_BASE_URL", SHOP_BIND="0.0.0.0:8124") == "http://127.0.0.1:8124"
    assert settings_say("settings.SMS4SATS_API_URL") == "http://127.0.0.1:8000/sandbox/api"
    # A public address set by the operator wins.
    url = settings_say("settings.SMS4SATS_API_URL", SHOP_BIND="0.0.0.0:8125", PUBLIC_BASE_URL="https://shop.example")
    assert url == "https://shop.example/sandbox/api"


def test_routine_task_lines_are_quiet_unless_asked_for():
    loggers = ("celery.app.trace", "celery.worker.strategy", "celery.beat")  # task succeeded, received; beat tick
    levels = f"[logging.getLogger(name).getEffectiveLevel() for name in {loggers}]"
    assert settings_say(levels) == str([logging.WARNING] * 3)
    assert settings_say(levels, LOG_TASKS="on") == str([logging.INFO] * 3)
    assert settings_say(levels, LOG_LEVEL="DEBUG") == str([logging.DEBUG] * 3)
