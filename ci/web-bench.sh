#!/usr/bin/env bash
# The web dashboard's budgets on a release server over loopback TLS: a Work
# Diary day of 144 segments with screenshots (render time and what a browser
# loads before scrolling), and a client with 50 contracts of a month each
# (the contracts page, a month's CSV, a week's timesheet).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --release -q --example web_bench
