#!/bin/sh
# Starts tor with one onion service: port 80 of the onion address goes to ONION_TARGET (the proxy's plain-HTTP
# port on the compose network). Tor writes the service's keys and `hostname` under /var/lib/tor/shop at start,
# before (and without) reaching the Tor network; the hostname is copied to /onion/hostname, a volume the shop
# reads (ONION_HOSTNAME_FILE) to show the address in the admin and in `manage.py onion_address`.
set -eu
target=${ONION_TARGET:-proxy:8080}
host=${target%:*}
port=${target##*:}

# tor takes an IP address as the target, not a name: resolve the compose service (it may be starting).
ip=""
for _ in $(seq 1 60); do
    ip=$(getent hosts "$host" | awk '{ print $1; exit }') && [ -n "$ip" ] && break
    sleep 1
done
[ -n "$ip" ] || { echo "tor: cannot resolve $host (ONION_TARGET=$target)" >&2; exit 1; }

mkdir -p /var/lib/tor/shop /onion
chown -R debian-tor:debian-tor /var/lib/tor
chmod 700 /var/lib/tor /var/lib/tor/shop
cat >/etc/tor/torrc <<TORRC
User debian-tor
DataDirectory /var/lib/tor
SocksPort 0
Log notice stdout
HiddenServiceDir /var/lib/tor/shop
HiddenServicePort 80 $ip:$port
TORRC

tor -f /etc/tor/torrc &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' TERM INT
for _ in $(seq 1 60); do
    [ -s /var/lib/tor/shop/hostname ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
done
if [ -s /var/lib/tor/shop/hostname ]; then
    cp /var/lib/tor/shop/hostname /onion/hostname.tmp && chmod 644 /onion/hostname.tmp && mv /onion/hostname.tmp /onion/hostname
    echo "tor: the shop's onion address is $(cat /onion/hostname) (port 80 -> $target, $ip:$port)"
fi
status=0
wait "$pid" || status=$?
# A signal ends the first wait at once: wait for tor itself to finish.
if kill -0 "$pid" 2>/dev/null; then wait "$pid" || status=$?; fi
exit "$status"
