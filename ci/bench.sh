#!/usr/bin/env bash
# Runs the benchmarks and prints each figure next to its budget.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench cache 2>&1 | tee target/bench-cache.log | grep -E '^cache/|time:'
echo
echo "budgets: cache/append_300KB_durable ≤ 5 ms; cache/open_verify_24h_144x300KB ≤ 30 ms"
