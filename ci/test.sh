#!/usr/bin/env bash
# Runs the test suite exactly as the README says. In CI a missing display
# (Xvfb, xdotool, ImageMagick) is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${CI:-}" = "true" ]; then
    export TIMECARD_REQUIRE_DISPLAY=1
fi
# The server builds none of the window, desktop or X11 crates.
if cargo tree -p timecard-server -e normal --prefix none \
    | grep -E '^(eframe|egui|egui-winit|egui_glow|winit|glow|x11rb|zbus|notify-rust) '; then
    echo "timecard-server depends on the window crates above" >&2
    exit 1
fi
cargo test
