#!/usr/bin/env bash
# The sync budgets (benches/sync.rs) side by side on SQLite, on PostgreSQL,
# and on PostgreSQL with pictures in an S3-compatible server, all on
# loopback in one run: metadata ingest in batches of 500 (budget on
# PostgreSQL: >= 5,000 segments/s) and a full 24-hour cache (144 x 300 KB)
# through one server (budget with blobs in S3: <= 3 s).
#
#   ci/scale-bench.sh
#
# Starts a throwaway PostgreSQL cluster (Debian's postgresql package; run
# as the postgres user when root) and s3s-fs (ci/install-s3-server.sh),
# and stops both at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
work="$(mktemp -d /tmp/timecard-scale-XXXX)"
chmod 755 "$work"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
    as_pg=(runuser -u postgres --)
    chown postgres "$work"
fi
port=$((20000 + RANDOM % 20000))
"${as_pg[@]}" "$bin/initdb" -D "$work/pg" -U postgres -A trust --no-sync >/dev/null
"${as_pg[@]}" "$bin/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $work" start >/dev/null
ci/install-s3-server.sh >/dev/null
s3root="$work/s3"
mkdir -p "$s3root/bench"
s3port=$((port + 1))
"${CARGO_TARGET_DIR:-target}/tools/bin/s3s-fs" --host 127.0.0.1 --port "$s3port" \
    --access-key bench --secret-key bench-secret "$s3root" >"$work/s3.log" 2>&1 &
s3pid=$!
cleanup() {
    kill "$s3pid" 2>/dev/null || true
    "${as_pg[@]}" "$bin/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
psql() { "$bin/psql" -X -q -h 127.0.0.1 -p "$port" -U postgres "$@"; }
cargo bench --bench sync --no-run
run() {
    echo "== $1"
    shift
    env "$@" cargo bench --bench sync -- --noplot 2>&1 \
        | grep -E '^sync/|time:|thrpt:' | sed 's/^/   /'
}
run "SQLite in the data folder" TIMECARD_BENCH_DATABASE= TIMECARD_BENCH_BLOBS=
psql -c "create database bench_pg" postgres
run "PostgreSQL" TIMECARD_BENCH_DATABASE="postgres://postgres@127.0.0.1:$port/bench_pg" TIMECARD_BENCH_BLOBS=
psql -c "create database bench_s3" postgres
run "PostgreSQL, pictures in S3 (s3s-fs)" \
    TIMECARD_BENCH_DATABASE="postgres://postgres@127.0.0.1:$port/bench_s3" \
    TIMECARD_BENCH_BLOBS="s3://bench/timecard" \
    AWS_ENDPOINT_URL="http://127.0.0.1:$s3port" AWS_ALLOW_HTTP=true \
    AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1
