#!/usr/bin/env bash
# UI performance budgets, measured on the release build under a private Xvfb
# with the built-in server: first frame, idle CPU not tracking and tracking
# (60 s windows, window visible), resident memory.
set -euo pipefail
cd "$(dirname "$0")/.."
WINDOW_SECS="${WINDOW_SECS:-60}"
cargo build --release -q
bin="$PWD/target/release/timecard"
data="$(mktemp -d)"
log="$(mktemp)"
exec 3< <(Xvfb -displayfd 1 -screen 0 1280x900x24 -nolisten tcp 2>/dev/null)
read -r -u 3 display
export DISPLAY=":$display"
xvfb_pid="$(pgrep -n Xvfb)"
cleanup() { kill "${app_pid:-}" 2>/dev/null || true; kill "$xvfb_pid" 2>/dev/null || true; rm -rf "$data" "$log"; }
trap cleanup EXIT

TIMECARD_DATA_DIR="$data" TIMECARD_REPORT_STARTUP=1 "$bin" 2>"$log" &
app_pid=$!
pixel() { import -window root -crop "1x1+$1+$2" txt:- | sed -n 's/.*srgb(\([0-9]*\),\([0-9]*\),\([0-9]*\)).*/\1 \2 \3/p'; }
wait_for() { # $1 = description, $2 = test command
    for _ in $(seq 1 600); do eval "$2" && return 0; sleep 0.1; done
    echo "timed out waiting for $1" >&2; exit 1
}
is_teal() { read -r r g b < <(pixel 80 117); [ "${r:-0}" -lt 60 ] && [ "${g:-0}" -gt 100 ]; }
is_red() { read -r r g b < <(pixel 80 117); [ "${r:-0}" -gt 150 ] && [ "${g:-255}" -lt 110 ]; }
wait_for "the window" is_teal
first_frame_ms="$(sed -n 's/.*first frame \([0-9]*\) ms.*/\1/p' "$log")"

ticks() { awk '{print $14 + $15}' "/proc/$app_pid/stat"; }
hz="$(getconf CLK_TCK)"
cpu_over_window() {
    local before after
    before="$(ticks)"; sleep "$WINDOW_SECS"; after="$(ticks)"
    awk -v d="$((after - before))" -v hz="$hz" -v s="$WINDOW_SECS" 'BEGIN { printf "%.2f", 100 * d / hz / s }'
}
idle_cpu="$(cpu_over_window)"
xdotool mousemove 80 117 click 1
wait_for "tracking" is_red
tracking_cpu="$(cpu_over_window)"
rss_kb="$(awk '/VmRSS/ {print $2}' "/proc/$app_pid/status")"
hwm_kb="$(awk '/VmHWM/ {print $2}' "/proc/$app_pid/status")"
# How much of that is the OpenGL driver's own code (under Xvfb: Mesa's
# llvmpipe, which maps LLVM), as opposed to Timecard's.
gl_kb="$(pmap -x "$app_pid" | awk '/libLLVM|_dri\.so|libgallium|libGLX_mesa|libEGL_mesa/ {s += $3} END {print s + 0}')"

printf 'first frame            %6s ms   (budget ≤ 500 ms)\n' "$first_frame_ms"
printf 'CPU, not tracking      %6s %%    (budget ≤ 0.3 %% of one core, %s s window)\n' "$idle_cpu" "$WINDOW_SECS"
printf 'CPU, tracking          %6s %%    (budget ≤ 1 %% of one core, %s s window)\n' "$tracking_cpu" "$WINDOW_SECS"
printf 'resident memory        %6s MB   (peak %s MB; budget ≤ 80 MB)\n' "$((rss_kb / 1024))" "$((hwm_kb / 1024))"
printf '  of which GL driver   %6s MB   (Timecard itself: %s MB)\n' "$((gl_kb / 1024))" "$(((rss_kb - gl_kb) / 1024))"
fail=0
[ "$first_frame_ms" -le 500 ] || { echo "over budget: first frame"; fail=1; }
awk -v v="$idle_cpu" 'BEGIN { exit !(v <= 0.3) }' || { echo "over budget: CPU not tracking"; fail=1; }
awk -v v="$tracking_cpu" 'BEGIN { exit !(v <= 1.0) }' || { echo "over budget: CPU tracking"; fail=1; }
[ "$((rss_kb / 1024))" -le 80 ] || { echo "over budget: memory"; fail=1; }
exit "$fail"
