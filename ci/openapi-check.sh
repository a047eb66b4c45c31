#!/usr/bin/env bash
# The API's OpenAPI document (I3) checked by an independent validator:
# `openapi-spec-validator` from PyPI (pinned below), installed into a
# virtual environment under target/, reads the document a real
# `timecard-server serve` answers at /api/v1/openapi.json over TLS and
# must find it valid OpenAPI 3.1. Uses the debug server
# (TIMECARD_SERVER_BIN picks another). Needs python3 with venv and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
validator_version="0.9.0"
target="${CARGO_TARGET_DIR:-$PWD/target}"
venv="$target/openapi-check"
if ! "$venv/bin/openapi-spec-validator" --version 2>/dev/null | grep -q "$validator_version"; then
    echo "openapi-check: installing openapi-spec-validator $validator_version into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "openapi-spec-validator==$validator_version"
fi
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
mkfifo "$work/out"
"$TIMECARD_SERVER_BIN" --data "$work/data" serve --listen 127.0.0.1:0 >"$work/out" 2>"$work/log" &
server_pid=$!
url=""
exec 3<"$work/out"
while read -r -t 60 line <&3; do
    case "$line" in
        "timecard-server listening on "*) url="${line#timecard-server listening on }"; break ;;
    esac
done
if [ -z "$url" ]; then
    echo "openapi-check: the server did not start:" >&2
    cat "$work/log" >&2
    exit 1
fi
# The rest of its output is not read again: drain it.
cat <&3 >/dev/null &
curl --silent --show-error --fail --cacert "$work/data/tls/cert.pem" \
    "$url/api/v1/openapi.json" -o "$work/openapi.json"
"$venv/bin/openapi-spec-validator" "$work/openapi.json"
paths=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["openapi"], len(d["paths"]), "paths")' "$work/openapi.json")
echo "openapi-check: /api/v1/openapi.json is valid ($paths)"
