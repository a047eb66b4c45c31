#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (listed in
# ci/system-packages.txt). Building Timecard itself needs none.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t packages < <(grep -v '^\s*#' ci/system-packages.txt | grep -v '^\s*$' || true)
if [ "${#packages[@]}" -eq 0 ]; then
    echo "no system packages needed"
    exit 0
fi
# What installed packages provide counts as installed: NodeSource's nodejs
# provides npm (and conflicts with Debian's npm package).
provided="$(dpkg-query -W -f='${db:Status-Abbrev}|${Provides}\n' 2>/dev/null \
    | awk -F'|' '$1 ~ /^ii/ { print $2 }' | tr ',' '\n' \
    | sed -E 's/\(.*\)//; s/^ +//; s/ +$//' | sort -u)"
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || grep -qxF "$p" <<<"$provided" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "system packages present: ${packages[*]}"
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# The downloaded packages are not needed once installed; the build needs the disk.
$SUDO apt-get clean
