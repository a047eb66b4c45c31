#!/usr/bin/env bash
# Runs the test suite exactly as the README says.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test
