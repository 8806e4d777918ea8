#!/usr/bin/env bash
# CI stage "compose": build the shop's image from its Dockerfile and run docker-compose.yml for real, in
# production settings, behind its TLS proxy; then a buyer orders, pays with the sandbox wallet of a
# sandboxed upstream and sees the code, and the admin logs in. Everything is torn down at the end, also
# on failure. Exits non-zero on any failure. Runs as root from anywhere; .ci/run calls it.
#
# No image registry is needed: the base image is made from Debian packages (debootstrap + docker
# import) and postgres:16, redis:7, caddy:2 and python:3.11-slim are stood in for by images built from
# Debian's packages (ci/images/). They are kept in dockerd, and saved under $CI_CACHE_DIR outside the
# clone, so later runs skip building them. ci/compose.ci.yml swaps them in and adds the upstream.
#
#   ci/compose_check.sh           KEEP=1 ci/compose_check.sh  (leaves the stack running)
#   CI_REBUILD_BASE=1 ci/compose_check.sh                     (rebuilds the cached base images)
set -euo pipefail

# The whole script is one block: bash reads it completely before running it, so a checkout that changes
# this file meanwhile (a rebase, an editor) cannot change the run halfway.
{
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO=$PWD
export DEBIAN_FRONTEND=noninteractive
CI_CACHE_DIR=${CI_CACHE_DIR:-/var/cache/sms4sats-ci}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
# Ports of this stack on the host (loopback only). Never 8000: a developer's local shop listens there,
# and its default upstream is http://127.0.0.1:8000/sandbox/api.
CI_HTTP_PORT=18080 CI_HTTPS_PORT=18443 CI_UPSTREAM_PORT=18301
PROJECT=sms4satsci
WORK=$(mktemp -d /tmp/sms4sats-compose.XXXXXX)
COMPOSE=(docker-compose --project-name "$PROJECT" --env-file "$WORK/ci.env"
    -f "$REPO/docker-compose.yml" -f "$REPO/ci/compose.ci.yml")
# The Umbrel package under the project name umbrelOS gives it (its app id: the container names app_proxy targets).
CI_UMBREL_PORT=18480 CI_UMBREL_UPSTREAM_PORT=18302
UMBREL=(docker-compose --project-name sms4sats-shop --project-directory "$REPO/deploy/umbrel/sms4sats-shop"
    -f "$REPO/deploy/umbrel/sms4sats-shop/docker-compose.yml" -f "$REPO/ci/umbrel.ci.yml")

T0=$SECONDS
TS=$SECONDS
log() { printf '[compose %4ds] %s\n' "$((SECONDS - T0))" "$*"; }
step() {
    log "(previous step: $((SECONDS - TS)) s)"
    printf '\n==> [compose %ds] %s\n' "$((SECONDS - T0))" "$*"
    TS=$SECONDS
}
fail() {
    echo "compose_check: $*" >&2
    exit 1
}
# Retries a command (network hiccups: apt, debootstrap, docker build's pip): retry TRIES CMD...
retry() {
    local tries=$1 n=1
    shift
    until "$@"; do
        ((n < tries)) || return 1
        log "failed (try $n of $tries), retrying in $((n * 10)) s: $*"
        sleep $((n * 10))
        n=$((n + 1))
    done
}

[ "$(id -u)" = 0 ] || fail "needs root (it installs packages, runs dockerd and debootstrap)"
"$PYTHON" -c "import httpx" 2>/dev/null || fail "$PYTHON cannot import httpx: run make setup first, or set PYTHON"
mkdir -p "$CI_CACHE_DIR"

# One compose stage at a time on this machine: the ports, the project name and the image tags are shared.
exec 9>"$CI_CACHE_DIR/lock"
if ! flock -n 9; then
    log "another compose stage is running; waiting for it (at most 30 min)"
    flock -w 1800 9 || fail "the other compose stage did not finish within 30 min"
fi

stack_started=""
umbrel_started=""
teardown() {
    local status=$?
    set +e
    if [ -n "$umbrel_started" ]; then
        if [ "$status" != 0 ]; then
            "${UMBREL[@]}" ps >&2
            "${UMBREL[@]}" logs --no-color --tail=40 >&2
        fi
        [ "${KEEP:-0}" = 1 ] || timeout 180 "${UMBREL[@]}" down -v --remove-orphans --timeout 10 >/dev/null 2>&1
    fi
    if [ -n "$stack_started" ]; then
        if [ "$status" != 0 ]; then
            echo "compose_check: FAILED; the services and their last log lines:" >&2
            "${COMPOSE[@]}" ps >&2
            "${COMPOSE[@]}" logs --no-color --tail=60 >&2
        fi
        if [ "${KEEP:-0}" = 1 ]; then
            log "KEEP=1: the stack stays up (${COMPOSE[*]} down -v)"
        else
            timeout 180 "${COMPOSE[@]}" --profile tor down -v --remove-orphans --timeout 10 >/dev/null 2>&1 ||
                echo "compose_check: teardown failed; run: ${COMPOSE[*]} down -v" >&2
        fi
    fi
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
    log "total $((SECONDS - T0)) s, $([ "$status" = 0 ] && echo passed || echo FAILED)"
    echo "$(date -u +%FT%TZ) $((SECONDS - T0))s status=$status base_images=${BASE_IMAGES:-unknown}" \
        >>"$CI_CACHE_DIR/durations.log"
    exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT TERM

step "host tools: docker.io, docker-compose, debootstrap"
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if ((${#missing[@]})); then
    apt_opts=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3 -o Acquire::http::Timeout=60)
    install_tools() {
        timeout 900 apt-get "${apt_opts[@]}" update -qq &&
            timeout 900 apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}"
    } >"$WORK/apt.log" 2>&1
    retry 3 install_tools || {
        tail -n 30 "$WORK/apt.log" >&2
        fail "could not install ${missing[*]}"
    }
fi
log "$(docker-compose version --short 2>/dev/null | sed 's/^/docker-compose /'), $(debootstrap --version)"

step "dockerd"
if ! timeout 20 docker info >/dev/null 2>&1; then
    log "starting dockerd (log: /var/log/sms4sats-ci-dockerd.log); it stays running to keep the image cache"
    # 9>&-: dockerd outlives this script; holding the lock on fd 9 it would block every later compose stage.
    setsid nohup dockerd >>/var/log/sms4sats-ci-dockerd.log 2>&1 </dev/null 9>&- &
    for _ in $(seq 1 60); do
        timeout 5 docker info >/dev/null 2>&1 && break
        sleep 1
    done
    timeout 20 docker info >/dev/null 2>&1 || {
        tail -n 30 /var/log/sms4sats-ci-dockerd.log >&2
        fail "dockerd did not start (its log above says why)"
    }
fi
log "dockerd $(docker version -f '{{.Server.Version}}')"

# A stack left over by an interrupted run would hold the ports.
timeout 180 "${COMPOSE[@]}" --profile tor down -v --remove-orphans --timeout 5 >/dev/null 2>&1 || true
APP_DATA_DIR=/nonexistent CI_UMBREL_PORT=$CI_UMBREL_PORT CI_UMBREL_UPSTREAM_PORT=$CI_UMBREL_UPSTREAM_PORT \
    timeout 180 "${UMBREL[@]}" down -v --remove-orphans --timeout 5 >/dev/null 2>&1 || true

# cached_image TAG KEY: loads TAG from dockerd or the cache folder when its key matches; 1 if it must be built.
cached_image() {
    local tag=$1 key=$2 tarball
    tarball="$CI_CACHE_DIR/$(echo "$tag" | tr '/:' '__')-$key.tar"
    if [ "${CI_REBUILD_BASE:-0}" != 1 ]; then
        if [ "$(docker image inspect -f '{{index .Config.Labels "sms4sats.ci.key"}}' "$tag" 2>/dev/null)" = "$key" ]; then
            log "$tag: cached in dockerd"
            return 0
        fi
        if [ -s "$tarball" ] && docker load -q -i "$tarball" >/dev/null; then
            log "$tag: loaded from $tarball"
            return 0
        fi
    fi
    BASE_IMAGES=built
    return 1
}
save_image() {
    local tag=$1 key=$2 tarball
    tarball="$CI_CACHE_DIR/$(echo "$tag" | tr '/:' '__')-$key.tar"
    rm -f "$CI_CACHE_DIR/$(echo "$tag" | tr '/:' '__')"-*.tar
    docker save -o "$tarball.tmp" "$tag" && mv "$tarball.tmp" "$tarball"
}
# stand_in TAG DIR: builds ci/images/DIR on the base image unless cached (the key covers the folder's
# files and the base image, so a changed recipe or a new base rebuilds it).
stand_in() {
    local tag=$1 dir=$2 key
    key=$( (cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c1-12)
    key=$(printf '%s %s' "$key" "$(docker image inspect -f '{{.Id}}' local/bookworm:base)" | sha256sum | cut -c1-16)
    cached_image "$tag" "$key" && return 0
    log "$tag: building from $dir"
    retry 3 timeout 900 docker build -q --label "sms4sats.ci.key=$key" -t "$tag" "$dir" >/dev/null ||
        fail "could not build the stand-in $tag"
    save_image "$tag" "$key"
}

step "base image local/bookworm:base (debootstrap --variant=minbase bookworm)"
BASE_IMAGES=cached
base_key=$(printf 'bookworm minbase %s v1' "$DEBIAN_MIRROR" | sha256sum | cut -c1-16)
if ! cached_image local/bookworm:base "$base_key"; then
    rootfs="$WORK/rootfs"
    make_rootfs() {
        rm -rf "$rootfs"
        timeout 1200 debootstrap --variant=minbase bookworm "$rootfs" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1
    }
    retry 3 make_rootfs || {
        tail -n 30 "$WORK/debootstrap.log" >&2
        fail "debootstrap failed"
    }
    rm -rf "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb %s-security bookworm-security main\n' \
        "$DEBIAN_MIRROR" "$DEBIAN_MIRROR" "$DEBIAN_MIRROR" >"$rootfs/etc/apt/sources.list"
    # apt inside the images retries too.
    printf 'Acquire::Retries "3";\nAcquire::http::Timeout "60";\n' >"$rootfs/etc/apt/apt.conf.d/80-retries"
    tar -C "$rootfs" -c . | docker import --change "LABEL sms4sats.ci.key=$base_key" - local/bookworm:base >/dev/null
    rm -rf "$rootfs"
    save_image local/bookworm:base "$base_key"
fi

step "stand-ins for python:3.11-slim, postgres:16, redis:7, caddy:2 (Debian 12's packages)"
# The host's extra CA certificates (a TLS-intercepting egress) go into the Python image, for pip.
cp -r ci/images/python "$WORK/python"
mkdir -p "$WORK/python/ca"
cp /usr/local/share/ca-certificates/*.crt "$WORK/python/ca/" 2>/dev/null || true
stand_in local/python:3.11-slim "$WORK/python"
docker tag local/python:3.11-slim python:3.11-slim
stand_in local/postgres:15-bookworm ci/images/postgres
stand_in local/redis:7-bookworm ci/images/redis
stand_in local/caddy:2-bookworm ci/images/caddy
log "base images: $BASE_IMAGES"

step "every pinned wheel exists for arm64 too"
ci/check_wheels.sh "$PYTHON"

step "the project's image, from its Dockerfile (one build: the other services reuse it by name)"
admin_password=$("$PYTHON" -c "import secrets; print(secrets.token_urlsafe(24))")
cat >"$WORK/ci.env" <<EOF
SECRET_KEY=$("$PYTHON" -c "import secrets; print(secrets.token_urlsafe(50))")
POSTGRES_PASSWORD=$("$PYTHON" -c "import secrets; print(secrets.token_hex(24))")
SHOP_DOMAIN=localhost
ALLOWED_HOSTS=localhost
PUBLIC_BASE_URL=https://localhost:$CI_HTTPS_PORT
SMS4SATS_API_URL=http://upstream:8000/sandbox/api
PROXY_ADDRESS=127.0.0.1
HTTP_PORT=$CI_HTTP_PORT
HTTPS_PORT=$CI_HTTPS_PORT
UPSTREAM_PORT=$CI_UPSTREAM_PORT
# Two web containers and two workers on a CI machine of a few cores: one process each is enough.
WEB_WORKERS=1
WORKER_CONCURRENCY=1
EOF
# The environment would override the file: only the file speaks.
while IFS='=' read -r name _; do unset "$name"; done <"$WORK/ci.env"
unset LOG_LEVEL CELERY_QUEUE SMS4SATS_API_KEY SMS4SATS_REF SMS4SATS_TIMEOUT POLL_CONCURRENCY
"${COMPOSE[@]}" config -q
# The shop's image (context: the checkout); the tor service's own image is built from deploy/tor.
builds=$("${COMPOSE[@]}" config | grep -A1 '^    build:' | grep -c "context: $REPO\$" || true)
[ "$builds" = 1 ] || fail "docker-compose.yml builds the image $builds times; build it once and reuse it by name"
retry 2 timeout 1200 "${COMPOSE[@]}" build --quiet || fail "the image did not build"

step "docker-compose up (web scaled to 2 behind the proxy), waiting for every healthcheck"
stack_started=yes
timeout 600 "${COMPOSE[@]}" up -d --scale web=2 || fail "docker-compose up failed"
wait_healthy() {
deadline=$((SECONDS + 420))
while :; do
    pending=""
    for id in $("${COMPOSE[@]}" ps -q); do
        read -r name state health code < <(docker inspect -f \
            '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}' "$id")
        case "$state/$health" in
        */healthy | running/none) ;;
        exited/none) [ "$code" = 0 ] || fail "$name exited with $code" ;;
        # Unhealthy may still turn healthy (a busy machine starts the workers late): wait for the deadline.
        *) pending+=" ${name#/}($state/$health)" ;;
        esac
    done
    [ -z "$pending" ] && break
    ((SECONDS < deadline)) || fail "not healthy after 420 s:$pending"
    sleep 2
done
"${COMPOSE[@]}" ps
}
wait_healthy

step "an order over HTTPS through the proxy, paid with the upstream's sandbox wallet; the admin"
"${COMPOSE[@]}" exec -T -e DJANGO_SUPERUSER_PASSWORD="$admin_password" web \
    python manage.py createsuperuser --noinput --username ci-admin --email ci-admin@example.com >/dev/null
ca="$WORK/caddy-root.crt"
for _ in $(seq 1 30); do
    "${COMPOSE[@]}" exec -T proxy cat /data/caddy/pki/authorities/local/root.crt >"$ca" 2>/dev/null &&
        [ -s "$ca" ] && curl -fsS -o /dev/null --cacert "$ca" "https://localhost:$CI_HTTPS_PORT/ping" && break
    sleep 1
done
curl -fsS -o /dev/null --cacert "$ca" "https://localhost:$CI_HTTPS_PORT/ping" || fail "the proxy does not answer over TLS"
timeout 300 "$PYTHON" ci/compose_order.py --shop "https://localhost:$CI_HTTPS_PORT" --http "http://localhost:$CI_HTTP_PORT" \
    --ca "$ca" --wallet "http://127.0.0.1:$CI_UPSTREAM_PORT" --admin-user ci-admin --admin-password="$admin_password"  # "=": a token may start with "-"

step "page weight: the first visit to the home page through Caddy, compressed (<= 45 KB)"
"$PYTHON" ci/page_weight.py "https://localhost:$CI_HTTPS_PORT/" --ca "$ca" --max-kb 45 ||
    fail "the first visit to the home page weighs more than 45 KB (or an asset did not load)"

step "backup: docs/deploying.md's pg_dump of the running database, restored into a scratch database"
pg=$("${COMPOSE[@]}" ps -q postgres)
"${COMPOSE[@]}" exec -T postgres pg_dump -U sms4sats -d sms4sats --format=custom >"$WORK/backup.dump"
docker exec "$pg" createdb -U sms4sats restore_check
docker exec -i "$pg" pg_restore -U sms4sats -d restore_check --no-owner <"$WORK/backup.dump"
restored=$(docker exec "$pg" psql -U sms4sats -d restore_check -tAc "SELECT count(*) FROM orders_order")
[ "$restored" -ge 1 ] || fail "the restored backup holds no order"
log "backup of $(stat -c %s "$WORK/backup.dump") bytes restores with $restored order(s)"

step "production behaviour inside the stack"
# Django's own redirect, for a request that did not come over TLS.
redirect=$("${COMPOSE[@]}" exec -T web python -c "
import http.client
c = http.client.HTTPConnection('127.0.0.1', 8000, timeout=10)
c.request('GET', '/', headers={'Host': 'localhost'})
r = c.getresponse()
print(r.status, r.getheader('Location'))" | tr -d '\r')
[ "$redirect" = "301 https://localhost/" ] || fail "plain HTTP to web answered '$redirect', not a redirect to HTTPS"
log "web redirects plain HTTP: $redirect"
# A wrong Host header: a 400 and one WARNING line, no traceback.
"${COMPOSE[@]}" exec -T web python -c "
import http.client
c = http.client.HTTPConnection('127.0.0.1', 8000, timeout=10)
c.request('GET', '/', headers={'Host': 'wrong.example'})
assert c.getresponse().status == 400" || fail "a wrong Host header was not refused with 400"
sleep 1
web_logs=$("${COMPOSE[@]}" logs --no-color web)
grep -q "Invalid HTTP_HOST header: 'wrong.example'" <<<"$web_logs" || fail "the wrong Host header was not logged"
! grep -q "Traceback" <<<"$web_logs" || fail "web logged a traceback"
! grep -q "Control server error" <<<"$web_logs" || fail "gunicorn could not open its control socket"
log "a wrong Host is refused and logged without a traceback; no gunicorn control socket error"
# The proxy spread the buyer's requests over both web containers: each served some of the ~25 requests that came
# through the proxy (not the container's own healthchecks from 127.0.0.1). Caddy picks at random per request, so
# counting one kind of page alone (the 10 order page views) missed a container about once in 500 runs.
for id in $("${COMPOSE[@]}" ps -q web); do
    served=$(docker logs "$id" 2>&1 | grep -E '^[0-9.]+ - - \[.*\] "(GET|POST) /' | grep -vc '^127\.0\.0\.1 ' || true)
    ((served > 0)) || fail "web container ${id:0:12} got none of the requests through the proxy: it does not balance"
    log "web ${id:0:12} served $served requests through the proxy"
done

step "Tor: the tor service (profile), its hostname, the shop on the hidden-service port, the address kept"
# deploy/tor builds FROM debian:bookworm-slim: the base image stands in for it.
docker tag local/bookworm:base debian:bookworm-slim
retry 2 timeout 900 "${COMPOSE[@]}" --profile tor build --quiet tor || fail "the tor image did not build"
timeout 300 "${COMPOSE[@]}" --profile tor up -d --scale web=2 tor || fail "the tor service did not start"
# There is no Tor network here: tor still writes its keys and hostname at start.
onion=""
for _ in $(seq 1 60); do
    onion=$("${COMPOSE[@]}" exec -T tor cat /onion/hostname 2>/dev/null | tr -d '\r\n') && [ -n "$onion" ] && break
    sleep 1
done
[[ "$onion" =~ ^[a-z2-7]{56}\.onion$ ]] || fail "the tor service wrote no onion hostname ('$onion')"
log "tor wrote $onion"
said=$("${COMPOSE[@]}" exec -T web python manage.py onion_address 2>&1 | tr -d '\r')
grep -q "set ONION_ADDRESS=$onion" <<<"$said" || fail "manage.py onion_address did not show tor's address: $said"
echo "ONION_ADDRESS=$onion" >>"$WORK/ci.env"
timeout 600 "${COMPOSE[@]}" --profile tor up -d --scale web=2 || fail "docker-compose up with ONION_ADDRESS failed"
wait_healthy
[ "$("${COMPOSE[@]}" exec -T web python manage.py onion_address 2>/dev/null | tr -d '\r')" = "$onion" ] ||
    fail "manage.py onion_address does not print the served address"
# What Tor would deliver: a plain-HTTP request for the onion host, from the tor container to its target.
onion_get() {
    "${COMPOSE[@]}" exec -T tor bash -c 'target=$(getent hosts proxy | cut -d" " -f1)
        exec 3<>"/dev/tcp/$target/8080"
        printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "$1" "$2" >&3
        cat <&3' _ "$1" "$onion" | tr -d '\r'
}
answer=$(onion_get /how-it-works/)
head -n1 <<<"$answer" | grep -q "^HTTP/1.[01] 200" || fail "the onion host got: $(head -n1 <<<"$answer")"
! grep -qi "^Strict-Transport-Security:" <<<"$answer" || fail "the onion answer carries HSTS"
! grep -qi "^Set-Cookie:.*; Secure" <<<"$answer" || fail "the onion answer sets a Secure cookie"
log "the onion host answers over plain HTTP, without HSTS or Secure cookies"
headers=$(curl -fsS -D - -o /dev/null --cacert "$ca" "https://localhost:$CI_HTTPS_PORT/how-it-works/" | tr -d '\r')
grep -qi "^Onion-Location: http://$onion/how-it-works/$" <<<"$headers" || fail "no Onion-Location on HTTPS: $headers"
# New container, same volume: the same address.
"${COMPOSE[@]}" --profile tor rm -sf tor >/dev/null
timeout 300 "${COMPOSE[@]}" --profile tor up -d --scale web=2 tor >/dev/null
sleep 3
again=$("${COMPOSE[@]}" exec -T tor cat /var/lib/tor/shop/hostname | tr -d '\r\n')
[ "$again" = "$onion" ] || fail "a new tor container has another address ($again): the keys were not kept"
log "a new tor container keeps $onion"

step "Umbrel: deploy/umbrel's compose file, a stand-in app_proxy, an order through it over plain HTTP"
# What umbrelOS does before it starts the app: its variables, then exports.sh (the secrets from APP_SEED).
mkdir -p "$WORK/umbrel/data"
chown 1000:1000 "$WORK/umbrel/data"  # Umbrel runs apps as 1000:1000 in a folder of theirs
export APP_DATA_DIR="$WORK/umbrel" APP_HIDDEN_SERVICE="$onion" CI_UMBREL_PORT CI_UMBREL_UPSTREAM_PORT
APP_SEED=$("$PYTHON" -c "import secrets; print(secrets.token_hex(32))")
APP_PASSWORD=$("$PYTHON" -c "import secrets; print(secrets.token_urlsafe(18))")
export APP_SEED APP_PASSWORD
# shellcheck disable=SC1091
. deploy/umbrel/sms4sats-shop/exports.sh
[ "${#APP_SMS4SATS_SHOP_SECRET_KEY}" = 64 ] || fail "exports.sh derived no secret key"
"${UMBREL[@]}" config -q || fail "the Umbrel package's compose file does not load"
umbrel_started=yes
timeout 300 "${UMBREL[@]}" up -d upstream || fail "the Umbrel stack's upstream did not start"
for _ in $(seq 1 120); do
    curl -fsS -o /dev/null "http://127.0.0.1:$CI_UMBREL_UPSTREAM_PORT/sandbox/wallet/" && break
    sleep 1
done
timeout 600 "${UMBREL[@]}" up -d || fail "the Umbrel package did not start"
# The one-shot setup (migrations, the first admin) runs to its end; the page answers through app_proxy.
setup_id=$("${UMBREL[@]}" ps -q setup)
for _ in $(seq 1 240); do
    [ "$(docker inspect -f '{{.State.Status}}' "$setup_id")" = exited ] && break
    sleep 1
done
[ "$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$setup_id")" = "exited 0" ] ||
    fail "the Umbrel package's setup service did not finish: $(docker logs --tail 20 "$setup_id" 2>&1)"
for _ in $(seq 1 120); do
    curl -fsS -o /dev/null "http://127.0.0.1:$CI_UMBREL_PORT/" 2>/dev/null && break
    sleep 1
done
curl -fsS -o /dev/null "http://127.0.0.1:$CI_UMBREL_PORT/" || fail "app_proxy does not reach the shop"
[ -s "$WORK/umbrel/data/db.sqlite3" ] || fail "the database is not under APP_DATA_DIR"
timeout 300 "$PYTHON" ci/compose_order.py --plain --shop "http://127.0.0.1:$CI_UMBREL_PORT" \
    --wallet "http://127.0.0.1:$CI_UMBREL_UPSTREAM_PORT" --admin-user admin --admin-password="$APP_PASSWORD" ||
    fail "an order through the Umbrel package failed"
headers=$(curl -fsS -D - -o /dev/null -H "Host: $onion" "http://127.0.0.1:$CI_UMBREL_PORT/how-it-works/" | tr -d '\r')
! grep -qi "^Location:" <<<"$headers" || fail "the onion host is redirected in the Umbrel package: $headers"
log "the Umbrel package: setup ran, data under APP_DATA_DIR, an order paid and its code shown, admin/APP_PASSWORD"

step "teardown"
exit
}
