#!/usr/bin/env bash
# The web dashboard's audit in a real browser: a `timecard-server serve
# --demo` on loopback TLS in a temporary folder, every page signed in as the
# role that sees it, in headless Chromium: axe-core finds no violation (at
# 1280 and 390 px), nothing scrolls sideways at 390 px, nothing goes wrong
# on the console, and Lighthouse (desktop and mobile) scores accessibility
# 100, best practices 100 and performance 95 or more. Prints the scores
# per page and exits 1 listing what failed (ci/web-audit/audit.mjs);
# Lighthouse's reports go to target/web-audit/reports/.
#
# Needs node and npm (Node 18.20 or newer) and Chromium (CHROMIUM picks
# another than /usr/bin/chromium). axe-core, Lighthouse and puppeteer-core
# are installed from npm at the versions ci/web-audit/package-lock.json
# pins, into target/web-audit/ (again only when the lock changes). Uses the
# debug server (TIMECARD_SERVER_BIN picks another, e.g. a release build);
# AUDIT_ONLY=diary audits only the pages whose name has "diary".
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in node npm; do
    command -v "$tool" >/dev/null || { echo "web-audit.sh needs $tool (Debian: nodejs, npm)" >&2; exit 1; }
done
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] || { echo "web-audit.sh needs Chromium at $CHROMIUM (Debian: chromium)" >&2; exit 1; }

target="${CARGO_TARGET_DIR:-$PWD/target}"
tools="$target/web-audit"
mkdir -p "$tools"
if ! cmp -s ci/web-audit/package-lock.json "$tools/package-lock.json" \
    || [ ! -d "$tools/node_modules" ]; then
    echo "web-audit: installing axe-core, Lighthouse and puppeteer-core into $tools"
    rm -rf "$tools/node_modules" "$tools/package-lock.json"
    cp ci/web-audit/package.json "$tools/"
    # The lock is copied last: it marks a finished install.
    cp ci/web-audit/package-lock.json "$tools/package-lock.json.new"
    mv "$tools/package-lock.json.new" "$tools/package-lock.json"
    if ! (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error); then
        rm -f "$tools/package-lock.json"
        exit 1
    fi
fi
# The scripts run beside their modules (ES modules resolve from where the
# importing file is).
cp ci/web-audit/*.mjs "$tools/"

if [ -z "${TIMECARD_SERVER_BIN:-}" ]; then
    cargo build -q -p timecard-server --bin timecard-server
    TIMECARD_SERVER_BIN="$target/debug/timecard-server"
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

"$TIMECARD_SERVER_BIN" --data "$work/data" serve --demo --listen 127.0.0.1:0 \
    >"$work/out.txt" 2>"$work/log.txt" &
server_pid=$!
# The server prints its address, the demo accounts and then its
# certificate's fingerprint: wait for that last line.
for _ in $(seq 1 600); do
    grep -q "SHA-256" "$work/out.txt" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/out.txt" "$work/log.txt" >&2; exit 1; }
    sleep 0.1
done
url="$(grep -o 'https://127\.0\.0\.1:[0-9]*' "$work/out.txt" | head -n 1)"
accounts="$(awk '$NF ~ /^\((admin|client|freelancer)\)$/ { printf "%s=%s ", $1, $2 }' "$work/out.txt")"
if [ -z "$url" ] || [ "$(wc -w <<<"$accounts")" -ne 3 ]; then
    echo "web-audit: the demo server did not say where it is and who may sign in:" >&2
    cat "$work/out.txt" "$work/log.txt" >&2
    exit 1
fi
echo "web-audit: $TIMECARD_SERVER_BIN serve --demo on $url"

rm -rf "$tools/reports"
AUDIT_URL="$url" \
AUDIT_CERT="$work/data/tls/cert.pem" \
AUDIT_ACCOUNTS="$accounts" \
AUDIT_REPORTS="$tools/reports" \
    node "$tools/audit.mjs"
