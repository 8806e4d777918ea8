#!/bin/sh
# Like the official image: every interface, protected mode off, run as the redis user.
set -eu
if [ "${1:-}" = "redis-server" ]; then
    shift
    set -- redis-server --bind '* -::*' --protected-mode no "$@"
    if [ "$(id -u)" = 0 ]; then exec setpriv --reuid=redis --regid=redis --init-groups "$@"; fi
fi
exec "$@"
