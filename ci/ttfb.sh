#!/usr/bin/env bash
# Time to first byte of new TLS connections to a release timecard-server
# on loopback (issue 23, item 10): N fresh connections, each one GET
# /api/v1/health, timed by curl from the request's sending (TLS done) to
# the answer's first byte. Prints the median and the 95th percentile.
#
#   ci/ttfb.sh [PATH/TO/timecard-server] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
server="${1:-}"
count="${2:-200}"
if [ -z "$server" ]; then
    cargo build --release -q --bin timecard-server
    server="${CARGO_TARGET_DIR:-target}/release/timecard-server"
fi
data="$(mktemp -d)"
out="$(mktemp)"
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$data" "$out"' EXIT
"$server" --data "$data" serve --listen 127.0.0.1:0 >"$out" 2>/dev/null &
pid=$!
for _ in $(seq 1 100); do grep -q "https://" "$out" && break; sleep 0.1; done
url="$(grep -o 'https://127.0.0.1:[0-9]*' "$out" | head -1)"
[ -n "$url" ] || { echo "the server did not start" >&2; exit 1; }
for _ in $(seq 1 "$count"); do
    curl -s -o /dev/null --cacert "$data/tls/cert.pem" \
        -w '%{time_appconnect} %{time_starttransfer}\n' "$url/api/v1/health"
done | awk '{ printf "%.3f\n", ($2 - $1) * 1000 }' | sort -n | awk '
    { v[NR] = $1 }
    END { printf "new connections: %d; time to first byte after TLS: median %.1f ms, p95 %.1f ms, worst %.1f ms\n",
          NR, v[int(NR * 0.5)], v[int(NR * 0.95)], v[NR] }'
