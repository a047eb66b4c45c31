#!/usr/bin/env bash
# Runs the benchmarks and prints each figure next to its budget.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target
cargo bench --bench cache --bench sync 2>&1 | tee target/bench.log | grep -E '^(cache|sync)/|time:|thrpt:'
cat <<'BUDGETS'

budgets:
  cache/append_300KB_durable               median ≤ 5 ms
  cache/open_verify_24h_144x300KB          ≤ 30 ms
  sync/upload_24h_cache_144x300KB_tls      ≤ 3 s
  sync/server_ingest_metadata_batch_500    ≥ 5,000 segments/s (thrpt)
BUDGETS
