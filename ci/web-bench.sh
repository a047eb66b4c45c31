#!/usr/bin/env bash
# The web dashboard's budgets on a release server over loopback TLS: a Work
# Diary day of 144 segments with screenshots (render time and what a browser
# loads before scrolling), and a client with 50 contracts of a month each
# (the contracts page, a month's CSV, a week's timesheet); then a team of 50
# freelancers over three months: every page as the client and as an admin,
# and the three-month report (a table of median, p90 and budget).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q --example web_bench
