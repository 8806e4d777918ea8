#!/usr/bin/env bash
# Smoke test of the README's run command in its default embedded mode (SQLite + a private Redis):
# start `make run` in its own process group, wait until /healthz is 200 with a live worker, check the
# home page, stop it with SIGTERM (as Ctrl-C would) and check that no process of the shop is left.
#
# Usage: bin/smoke_run.sh        (from anywhere; it works on the checkout it lives in)
# Env:   SMOKE_TIMEOUT (seconds to wait for a healthy shop, default 90)
#        SMOKE_STOP_TIMEOUT (seconds to wait for a clean stop, default 30)
#        SMOKE_PORT (the shop's port, default 8000 as in the README; another one is passed as SHOP_BIND)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

PORT="${SMOKE_PORT:-8000}"
URL="http://127.0.0.1:$PORT"
TIMEOUT="${SMOKE_TIMEOUT:-90}"
STOP_TIMEOUT="${SMOKE_STOP_TIMEOUT:-30}"
LOG=/dev/null
PGID=""

say() { printf 'smoke: %s\n' "$*"; }

show_log() {
    say "last lines of the shop's log ($LOG):"
    tail -n "${1:-60}" "$LOG" | sed 's/^/  | /' || true
}

fail() {
    say "FAILED: $*" >&2
    show_log 80 >&2
    exit 1
}

# Our own process and its ancestors (e.g. `bash .ci/run`, whose working directory is this checkout).
ancestors() {
    local pid=$$
    while [ -n "$pid" ] && [ "$pid" -gt 1 ] 2>/dev/null; do
        echo "$pid"
        pid="$(awk '/^PPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
    done
}

# The shop's processes: those in the run's process group or session, the shop's programs started
# from this checkout (gunicorn, celery, bin/run.py; matched on the checkout's path in their command
# line or their working directory), and the run's private Redis (its title is "redis-server 127.0.0.1:PORT";
# PORT from the log).
# Other work in the same tree (say a pytest run with its own private Redis) is not the shop's.
shop_processes() {
    local skip pid cmd cwd fields state pgid sid redis_port=""
    skip=" $(ancestors | tr '\n' ' ') "
    if [ -f "$LOG" ]; then
        redis_port="$(sed -n 's|.*private Redis at redis://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$LOG" | tail -n 1)"
    fi
    for dir in /proc/[0-9]*; do
        pid="${dir#/proc/}"
        case "$skip" in *" $pid "*) continue ;; esac
        # Fields after the command name: state, ppid, pgrp, session. A zombie is gone already.
        fields="$(sed 's/.*) //' "$dir/stat" 2>/dev/null)" || continue
        read -r state _ pgid sid _ <<<"$fields"
        [ "$state" = "Z" ] && continue
        cmd="$(tr '\0' ' ' <"$dir/cmdline" 2>/dev/null || true)"
        cwd="$(readlink "$dir/cwd" 2>/dev/null || true)"
        if { [ -n "$PGID" ] && { [ "$pgid" = "$PGID" ] || [ "$sid" = "$PGID" ]; }; } ||
            { [[ "$cmd" == *"$ROOT/"* || "$cwd" == "$ROOT" ]] && [[ "$cmd" =~ (/gunicorn\ |/celery\ |bin/run\.py) ]]; } ||
            { [ -n "$redis_port" ] && [[ "$cmd" == "redis-server "*":$redis_port"* ]]; }; then
            printf '%s %s\n' "$pid" "$cmd"
        fi
    done
}

group_alive() { [ -n "$PGID" ] && kill -0 -- "-$PGID" 2>/dev/null; }

stop_group() {
    group_alive || return 0
    kill -TERM -- "-$PGID" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while group_alive && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.5; done
    group_alive || return 0
    return 1
}

cleanup() {
    local rc=$?
    if group_alive; then
        say "stopping what is left of the shop (process group $PGID)"
        stop_group || kill -KILL -- "-$PGID" 2>/dev/null || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v curl >/dev/null || fail "curl is needed"
command -v setsid >/dev/null || fail "setsid (util-linux) is needed"

# The port must be free, and no shop of this checkout may be running already.
if (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null; then
    say "FAILED: port $PORT is already in use; stop whatever listens there (or set SMOKE_PORT) and run again" >&2
    exit 1
fi
leftover="$(shop_processes)"
if [ -n "$leftover" ]; then
    say "FAILED: processes of this checkout's shop are already running; stop them first:" >&2
    printf '  %s\n' "$leftover" >&2
    exit 1
fi

LOG="$(mktemp "${TMPDIR:-/tmp}/sms4sats-smoke.XXXXXX")"

# Install outside the timed part (a fresh clone creates .venv here).
say "preparing the virtual environment (make setup)"
make -s setup >>"$LOG" 2>&1 || fail "make setup failed"

# The default embedded mode: no DATABASE_URL, no REDIS_URL (SQLite under var/ and a private Redis).
unset DATABASE_URL REDIS_URL SHOP_BIND PUBLIC_BASE_URL
[ "$PORT" = 8000 ] || export SHOP_BIND="127.0.0.1:$PORT"
say "starting make run (log: $LOG)"
start=$SECONDS
# Scripts run without job control, so the background job is not a group leader and setsid execs in
# place: its pid is the new session's (and process group's) id.
setsid make run </dev/null >>"$LOG" 2>&1 &
PGID=$!
sleep 0.2
actual_pgid="$(awk '{print $5}' "/proc/$PGID/stat" 2>/dev/null || echo "$PGID")"
[ "$actual_pgid" = "$PGID" ] || fail "make run did not get its own process group (pgid $actual_pgid, pid $PGID)"

health=""
while :; do
    if health="$(curl -fsS --max-time 5 "$URL/healthz" 2>/dev/null)" &&
        printf '%s' "$health" | grep -Eq '"workers": ?"ok"'; then
        break
    fi
    group_alive || fail "make run exited before the shop became healthy"
    if [ $((SECONDS - start)) -ge "$TIMEOUT" ]; then
        last="$(curl -sS --max-time 5 "$URL/healthz" 2>&1 || true)"
        fail "/healthz not 200 with a live worker after ${TIMEOUT}s; last answer: ${last:-none}"
    fi
    sleep 1
done
say "healthy after $((SECONDS - start))s: $health"

code="$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$URL/" || true)"
[ "$code" = "200" ] || fail "the home page / answered ${code:-nothing}, not 200"
say "home page: 200"

say "stopping the shop with SIGTERM to its process group $PGID"
t0=$SECONDS
stop_group || fail "the shop was still running ${STOP_TIMEOUT}s after SIGTERM: $(shop_processes | tr '\n' ';')"
wait "$PGID" 2>/dev/null || true
sleep 0.5
left="$(shop_processes)"
if [ -n "$left" ]; then
    say "FAILED: processes left behind after the stop:" >&2
    printf '  %s\n' "$left" >&2
    while read -r pid _; do kill -KILL "$pid" 2>/dev/null || true; done <<<"$left"
    show_log 40 >&2
    exit 1
fi
if (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null; then
    fail "something still listens on port $PORT after the stop"
fi
say "stopped in $((SECONDS - t0))s; nothing left running"
rm -f "$LOG"
say "OK"
