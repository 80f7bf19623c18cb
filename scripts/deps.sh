#!/bin/sh
# deps.sh [--test]: install, from Debian's packages, what building libactor
# needs (and with --test, what the full test suite needs: PostgreSQL server,
# clang for the fuzz target, g++ for the C++ header checks). Installs only
# what is missing; runs `apt-get update` once when something is.
set -eu

pkgs="cmake make gcc g++ pkg-config libsqlite3-dev libjansson-dev libyajl-dev libpq-dev"
if [ "${1:-}" = "--test" ]; then
    pkgs="$pkgs postgresql clang"
fi

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    exit 0
fi
echo "deps: installing$missing" >&2
run() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
export DEBIAN_FRONTEND=noninteractive
run apt-get update -qq
# shellcheck disable=SC2086
run apt-get install -y -qq --no-install-recommends $missing
