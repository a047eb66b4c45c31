#!/usr/bin/env bash
# The screenshot pass: opens the real window under a private Xvfb on a fresh
# data folder (built-in server, no setup) and takes a picture of every screen
# at the window's minimum size (520x420) and at 1920x1080, into
# target/screens/<size>-<screen>.png: Tracker, Contracts, Work Diary (with
# tracked segments and the one in progress), Cache, Settings, Help, the
# sign-in and report dialogs, a segment's window, the mini view and the idle
# prompt. Look at every picture: nothing may be clipped.
#
# Uses the debug build (TIMECARD_BIN picks another, e.g. target/release/timecard).
# Needs Xvfb, xdotool, xsetroot and ImageMagick's import.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TIMECARD_BIN:-}" ]; then
    cargo build -q --bin timecard
    TIMECARD_BIN="$PWD/target/debug/timecard"
fi
bin="$TIMECARD_BIN"
out="$PWD/target/screens"
mkdir -p "$out"
for tool in Xvfb xdotool xsetroot import; do
    command -v "$tool" >/dev/null || { echo "screens.sh needs $tool" >&2; exit 1; }
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

start_x() {
    exec 3< <(Xvfb -displayfd 1 -screen 0 1920x1080x24 -nolisten tcp -noreset 2>/dev/null & echo "pid $!"; wait)
    read -r _ xvfb_pid <&3
    read -r display <&3
    export DISPLAY=":$display"
    # A desktop that is not black, so screenshots are not "black".
    xsetroot -solid '#5e81ac'
}

stop_x() {
    kill "$xvfb_pid" 2>/dev/null || true
    wait "$xvfb_pid" 2>/dev/null || true
    xvfb_pid=""
}

# Waits until the window $1 looks the same twice in a row (drawn and settled).
settle() {
    local prev="" now
    for _ in $(seq 1 100); do
        now="$(import -window "$1" rgb:- 2>/dev/null | md5sum)"
        [ "$now" = "$prev" ] && return 0
        prev="$now"
        sleep 0.3
    done
    echo "window $1 did not settle" >&2
}

shot() { # $1 = name
    settle "$win"
    import -window "$win" "$out/$size-$1.png"
    echo "  $size-$1.png"
}

click() { # $1 $2 = x y inside the main window
    xdotool mousemove --window "$win" "$1" "$2" click 1
}

key() {
    xdotool windowfocus --sync "$win" key "$@"
}

# --- some tracked time, once: two short sessions on two contracts, then
# the data folder is copied for each size.
start_x
seed="$work/seed"
minute="$(date -u +%M)"
TIMECARD_DATA_DIR="$seed" "$bin" track --contract demo-hourly --for 15s \
    --memo "Invoice export API" >/dev/null
TIMECARD_DATA_DIR="$seed" "$bin" track --contract demo-open --for 10s >/dev/null
# The idle prompt after a minute without input (the slider's least is 3).
echo '{"idle_threshold_mins": 1}' >"$seed/settings.json"
stop_x
column=$((10#$minute / 10))

for size in 520x420 1920x1080; do
    echo "$size:"
    w="${size%x*}"
    h="${size#*x}"
    data="$work/$size"
    cp -a "$seed" "$data"
    start_x
    TIMECARD_DATA_DIR="$data" "$bin" 2>"$work/$size.log" &
    app_pid=$!
    win="$(xdotool search --sync --name '^Timecard$' | head -n1)"
    xdotool windowsize "$win" "$w" "$h"
    xdotool windowmove "$win" 0 0
    # Where things are. The tab bar wraps at 520 px (Mini view and Help go
    # to a second line); the diary centres the first logged hour, and its
    # cells narrow to fit.
    if [ "$w" -lt 700 ]; then
        mini=(42 48); help=(130 48); report=(170 85); signin=(120 125)
        report_cancel=(165 344); signin_cancel=(158 363)
        cell_x0=57; cell_step=76; cell_w=72; row_y=313
    else
        mini=(505 16); help=(588 16); report=(630 48); signin=(617 61)
        report_cancel=(865 674); signin_cancel=(857 694)
        cell_x0=58; cell_step=106; cell_w=102; row_y=625
    fi
    cell=($((cell_x0 + column * cell_step + cell_w / 2)) "$row_y")
    shot tracker
    click 133 16; shot contracts
    click 403 16; shot settings
    click 323 16; shot cache
    click 234 16; shot diary
    click "${cell[@]}"; shot segment
    # Tracking: the diary shows the segment in progress.
    click 50 16; settle "$win"
    key ctrl+Return
    click 234 16; shot diary-tracking
    click "${mini[@]}"
    mini_win="$(xdotool search --sync --name '^Timecard mini$' | head -n1)"
    settle "$mini_win"
    import -window "$mini_win" "$out/$size-mini.png"
    echo "  $size-mini.png"
    xdotool mousemove --window "$mini_win" 250 50 click 1
    click "${help[@]}"; shot help
    click "${report[@]}"; shot report-dialog
    click "${report_cancel[@]}"; settle "$win"
    click 50 16; settle "$win"
    click "${signin[@]}"; shot sign-in-dialog
    click "${signin_cancel[@]}"; settle "$win"
    # No input for a minute (the threshold in settings.json), then one: the
    # window asks about the idle time.
    # The worker samples input every 15 s: idle is noticed up to 15 s after
    # the threshold, and the return up to 15 s after the input.
    sleep 80
    xdotool mousemove 5 5 mousemove 10 10
    sleep 20
    shot idle-dialog
    kill "$app_pid"
    wait "$app_pid" || true
    app_pid=""
    stop_x
done
ls "$out"
