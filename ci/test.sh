#!/usr/bin/env bash
# Runs the test suite exactly as the README says. In CI a missing display
# (Xvfb, xdotool, ImageMagick) is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${CI:-}" = "true" ]; then
    export TIMECARD_REQUIRE_DISPLAY=1
fi
cargo test
