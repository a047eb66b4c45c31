#!/usr/bin/env bash
# 200 simulated devices upload a day each (144 segments with a 7 KB
# screenshot, batches of 16) on loopback, side by side: through one server
# on SQLite, and through two replicas on one PostgreSQL with pictures in an
# S3-compatible server (and, between the two, on PostgreSQL with the
# pictures in the database). Prints segments/s, p50/p99 upload latency and each
# replica's peak resident memory; fails unless every segment is stored
# exactly once. Bounded: each run is stopped after 5 minutes.
#
#   ci/scale-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin timecard-server --example scale_load
source ci/scale-env.sh
server=target/release/timecard-server
echo "== one server, SQLite in its data folder"
env -u TIMECARD_DATABASE_URL -u TIMECARD_BLOBS \
    timeout --kill-after=10s 300s target/release/examples/scale_load "$server" 1
echo "== two replicas, PostgreSQL, pictures in the database"
env -u TIMECARD_BLOBS TIMECARD_DATABASE_URL="$(pg_url_for scale_db)" \
    timeout --kill-after=10s 300s target/release/examples/scale_load "$server" 2
echo "== two replicas, PostgreSQL, pictures in S3 (s3s-fs)"
env TIMECARD_DATABASE_URL="$(pg_url_for scale)" TIMECARD_BLOBS="s3://bench/scale" "${s3_env[@]}" \
    timeout --kill-after=10s 300s target/release/examples/scale_load "$server" 2
