#!/bin/sh
# Installs the Debian packages the labs start servers from (PostgreSQL, Redis).
# Idempotent: installs only what is missing, and runs `apt-get update` only when apt does
# not know a package yet. The labs start their own throwaway servers, so the system-wide
# services the packages auto-start are stopped again (the labs never use them).
#
#   scripts/install-lab-deps.sh            # as root (CI), or through sudo
set -eu

PACKAGES="postgresql redis-server"

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then exec sudo "$0" "$@"; fi
    echo "install-lab-deps: run as root (or install sudo)" >&2
    exit 1
fi

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "install-lab-deps: already installed:$(printf ' %s' $PACKAGES)"
else
    needs_update=no
    for p in $missing; do
        candidate=$(apt-cache policy "$p" 2>/dev/null | awk '/Candidate:/ { print $2 }')
        if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then needs_update=yes; fi
    done
    if [ "$needs_update" = yes ]; then apt-get update; fi
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
fi

# The packages may have started system-wide servers; the labs do not use them.
if command -v pg_lsclusters >/dev/null 2>&1; then
    pg_lsclusters -h 2>/dev/null | while read -r version cluster _port status _rest; do
        if [ "$status" = online ]; then pg_ctlcluster "$version" "$cluster" stop || true; fi
    done
fi
if command -v redis-cli >/dev/null 2>&1 && redis-cli ping >/dev/null 2>&1; then
    service redis-server stop >/dev/null 2>&1 || redis-cli shutdown nosave >/dev/null 2>&1 || true
fi

for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && echo "install-lab-deps: PostgreSQL binaries in $d"
done
command -v redis-server >/dev/null 2>&1 && echo "install-lab-deps: $(redis-server --version | cut -d' ' -f1-3)"
exit 0
