#!/usr/bin/env bash
# The sync budgets (benches/sync.rs) side by side on SQLite, on PostgreSQL,
# and on PostgreSQL with pictures in an S3-compatible server, all on
# loopback in one run: metadata ingest in batches of 500 (budget on
# PostgreSQL: >= 5,000 segments/s) and a full 24-hour cache (144 x 300 KB)
# through one server (budget with blobs in S3: <= 3 s).
#
#   ci/scale-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/scale-env.sh
cargo bench --bench sync --no-run
run() {
    echo "== $1"
    shift
    env "$@" cargo bench --bench sync -- --noplot --discard-baseline 2>&1 \
        | grep -E '^sync/|time:|thrpt:' | sed 's/^/   /'
}
run "SQLite in the data folder" -u TIMECARD_BENCH_DATABASE -u TIMECARD_BENCH_BLOBS
run "PostgreSQL" -u TIMECARD_BENCH_BLOBS TIMECARD_BENCH_DATABASE="$(pg_url_for bench_pg)"
run "PostgreSQL, pictures in S3 (s3s-fs)" \
    TIMECARD_BENCH_DATABASE="$(pg_url_for bench_s3)" TIMECARD_BENCH_BLOBS="s3://bench/timecard" \
    "${s3_env[@]}"
