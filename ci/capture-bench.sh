#!/usr/bin/env bash
# Screenshot budget, whole processes side by side on the same 1920×1080
# Xvfb screen with realistic content: `timecard capture` against `scrot`
# (budget: our median wall time ≤ scrot's). Needs Xvfb, ImageMagick, scrot
# and hyperfine (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
# -noreset: otherwise the server resets (and blanks the screen) each time
# its last client leaves, i.e. after every run below.
exec 3< <(Xvfb -displayfd 1 -screen 0 1920x1080x24 -nolisten tcp -noreset 2>/dev/null)
read -r -u 3 display
export DISPLAY=":$display"
xvfb_pid="$(pgrep -n Xvfb)"
out="$(mktemp -d)"
trap 'kill "$xvfb_pid" 2>/dev/null || true; rm -rf "$out"' EXIT
# `display -window root` sets the root background and exits non-zero.
display -window root fixtures/screens/desktop-1920x1080.jpg || true
export TIMECARD_DATA_DIR="$out/data"
hyperfine -N --warmup 5 --runs 50 --export-json "$out/bench.json" \
    "target/release/timecard capture --out $out/timecard.jpg --quality 75" \
    "scrot -o -q 75 $out/scrot.jpg"
ls -l "$out"/*.jpg
python3 - "$out/bench.json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
ours, scrot = (r["median"] * 1000 for r in results)
print(f"median: timecard capture {ours:.1f} ms, scrot {scrot:.1f} ms (budget: ours ≤ scrot)")
sys.exit(0 if ours <= scrot else 1)
PY
