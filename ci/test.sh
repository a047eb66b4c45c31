#!/usr/bin/env bash
# Runs the test suite exactly as the README says, after the checks that
# need no test run: formatting, clippy, the crates' layering and the
# server's module graph; then the API's OpenAPI document
# (ci/openapi-check.sh) and the web dashboard's audit (ci/web-audit.sh).
# In CI a missing display (Xvfb, xdotool, ImageMagick) is a failure, not
# a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${CI:-}" = "true" ]; then
    export TIMECARD_REQUIRE_DISPLAY=1
fi
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# The Windows build too, where its target is installed (.ci/run installs it
# for the Windows package): its platform code is compiled only there.
if rustup target list --installed 2>/dev/null | grep -qx x86_64-pc-windows-gnu; then
    cargo clippy --target x86_64-pc-windows-gnu --workspace --all-targets -- -D warnings
fi
# The layering the compiler cannot see from one crate: the server builds
# none of the window, desktop or X11 crates, and the client none of the
# server's (the built-in server is the app's to provide).
if cargo tree -p timecard-server -e normal --prefix none \
    | grep -E '^(eframe|egui|egui-winit|egui_glow|winit|glow|x11rb|zbus|notify-rust) '; then
    echo "timecard-server depends on the window crates above" >&2
    exit 1
fi
if cargo tree -p timecard-client -e normal --prefix none \
    | grep -E '^(axum|axum-server|rusqlite|postgres|r2d2|r2d2_postgres|object_store|maud|timecard-server) '; then
    echo "timecard-client depends on the server crates above" >&2
    exit 1
fi
# No two modules of the server import each other, even through others.
python3 ci/module-cycles.py crates/timecard-server/src
# Every rule of the spec is cited where the code enforces it.
ci/spec-ids.sh
cargo test
# The API's OpenAPI document, judged by an independent validator (PyPI).
ci/openapi-check.sh
# The dashboard in a real browser (axe-core, Lighthouse, a phone's width),
# after the tests: Lighthouse times the pages, so it has the machine to
# itself. It installs its tools from npm, which `cargo test` does not.
ci/web-audit.sh
