#!/usr/bin/env bash
# Launches the release binary under a private Xvfb on a fresh data folder
# (built-in server), presses Start with xdotool, checks that the window is
# drawn and that tracking shows, and leaves screenshots in target/ui-smoke/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release
TIMECARD_BIN="$PWD/target/release/timecard" TIMECARD_REQUIRE_DISPLAY=1 \
    cargo test --release --test integration window_xvfb:: -- --nocapture
ls target/ui-smoke/
