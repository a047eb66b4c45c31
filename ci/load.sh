#!/usr/bin/env bash
# Memory and latency budgets of timecard-server under hostile load (issue
# 11, items 3 and 4; issue 23, items 1 and 2), on loopback only: 1,000
# sign-ins with random logins from 200 parallel clients at 200 addresses,
# three parallel 64 MiB uploads of empty entries, 300 year-long CSV
# exports and 300 web pages of a busy contract (150 at a time), 200
# parallel /diary requests on a day with a 10 MB memo. Prints
# the server's peak resident memory and the worst /health latency of each
# phase, and exits non-zero when a budget is missed.
#
#   ci/load.sh                  # builds and measures target/release/timecard-server
#   ci/load.sh PATH/TO/SERVER   # measures another build of the server
#
# Every request has a timeout, every phase a deadline, and the whole run
# is stopped after 10 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin timecard-server --example load
server="${1:-target/release/timecard-server}"
exec timeout --kill-after=10s 600s target/release/examples/load "$server"
