#!/usr/bin/env bash
# The README's pictures from the real window at its default size (760x620,
# SPEC D9) under a private Xvfb, on a fresh data folder (built-in server):
# docs/screenshot.png (the Tracker while tracking) and docs/work-diary.png
# (the Work Diary with the day's segments). It drives the window only by
# the keyboard shortcut Ctrl+Enter and the tab bar, whose places do not
# depend on what the screens show.
#
# A segment's screenshot comes at a random moment between its start and the
# end of its 10-minute cell: tracking is started 5 to 20 s before a cell
# ends, so the picture shows it (the script waits up to 10 minutes for
# that). The desktop shows the window's own picture from the window-size
# test (`cargo test --test integration ui::screens`) when there is one.
#
# Uses the debug build (TIMECARD_BIN picks another). Needs Xvfb, xdotool,
# xsetroot and ImageMagick's import and display.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TIMECARD_BIN:-}" ]; then
    cargo build -q --bin timecard
    TIMECARD_BIN="$PWD/target/debug/timecard"
fi
bin="$TIMECARD_BIN"
for tool in Xvfb xdotool xsetroot import; do
    command -v "$tool" >/dev/null || { echo "readme-screens.sh needs $tool" >&2; exit 1; }
done
work="$(mktemp -d)"
xvfb_pid=""
app_pid=""
cleanup() {
    [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null || true
    [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

exec 3< <(Xvfb -displayfd 1 -screen 0 1920x1080x24 -nolisten tcp -noreset 2>/dev/null & echo "pid $!"; wait)
read -r _ xvfb_pid <&3
read -r display <&3
export DISPLAY=":$display"
# A desktop that is not black, so the screenshots show something.
xsetroot -solid '#5e81ac'
backdrop="${CARGO_TARGET_DIR:-target}/tmp/screens/tracker-dispute-1920x1080.png"
if [ -f "$backdrop" ]; then
    display -window root "$backdrop" || true
fi

# Waits until the window looks the same twice in a row (drawn and settled).
settle() {
    local prev="" now
    for _ in $(seq 1 100); do
        now="$(import -window "$win" rgb:- 2>/dev/null | md5sum)"
        [ "$now" = "$prev" ] && return 0
        prev="$now"
        sleep 0.5
    done
    echo "the window did not settle" >&2
    exit 1
}

data="$work/data"
TIMECARD_DATA_DIR="$data" "$bin" track --contract demo-hourly --for 15s \
    --memo "Invoice export API" >/dev/null
TIMECARD_DATA_DIR="$data" "$bin" track --contract demo-open --for 10s >/dev/null
TIMECARD_DATA_DIR="$data" "$bin" 2>"$work/window.log" &
app_pid=$!
win="$(xdotool search --sync --name '^Timecard$' | head -n1)"
xdotool windowmove "$win" 0 0
settle
left=$((600 - $(date +%s) % 600))
if [ "$left" -gt 20 ]; then
    sleep $((left - 20))
elif [ "$left" -lt 5 ]; then
    sleep $((left + 580))
fi
xdotool windowfocus --sync "$win" key ctrl+Return
# The screenshot is due before the cell ends; the timer changes every
# second, so the window is not waited on to settle.
sleep 25
import -window "$win" docs/screenshot.png
# The tab bar: Tracker, Contracts, Work Diary, … (Work Diary at x 234).
xdotool mousemove --window "$win" 234 16 click 1
sleep 2
settle
import -window "$win" docs/work-diary.png
file docs/screenshot.png docs/work-diary.png
