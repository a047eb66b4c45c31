#!/usr/bin/env bash
# Wayland screenshot budgets inside a headless Sway (1920x1080, the
# fixture on screen): in-process screencopy + JPEG + thumbnail (<= 25 ms
# median), and `timecard capture --source screencopy` against grim, whole
# processes side by side with hyperfine (median <= 1.0x of grim's).
#
#   ci/wayland-bench.sh
#
# Needs sway, swaybg, grim and hyperfine (Debian packages). Sway refuses to
# run as root: as root it runs as the user timecard-wl (made if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin timecard --example screencopy_bench
rt="$(mktemp -d /tmp/timecard-wl-XXXX)"
run_as=()
if [ "$(id -u)" -eq 0 ]; then
    id timecard-wl >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin timecard-wl
    run_as=(runuser -u timecard-wl --)
fi
cp fixtures/screens/desktop-1920x1080.jpg "$rt/screen.jpg"
echo "output HEADLESS-1 mode 1920x1080 bg $rt/screen.jpg center" >"$rt/config"
[ "$(id -u)" -eq 0 ] && chown -R timecard-wl "$rt"
chmod 700 "$rt"
"${run_as[@]}" env XDG_RUNTIME_DIR="$rt" WLR_BACKENDS=headless WLR_RENDERER=pixman \
    WLR_LIBINPUT_NO_DEVICES=1 sway -c "$rt/config" >"$rt/sway.log" 2>&1 &
sway_pid=$!
cleanup() { kill "$sway_pid" 2>/dev/null || true; sleep 0.2; rm -rf "$rt"; }
trap cleanup EXIT
for _ in $(seq 100); do
    ls "$rt"/wayland-* >/dev/null 2>&1 && break
    sleep 0.1
done
export XDG_RUNTIME_DIR="$rt" WAYLAND_DISPLAY="$(basename "$(ls "$rt"/wayland-[0-9] | head -1)")"
unset DISPLAY
sleep 1 # swaybg draws the background
target/release/examples/screencopy_bench
out="$rt/shot"
# Debian's grim is built without JPEG: it is measured writing its default
# PNG and raw PPM (no encoding at all), the cheapest it can do.
hyperfine -N --warmup 3 --runs 30 \
    "target/release/timecard capture --source screencopy --quality 70 --out $out-timecard.jpg" \
    "grim $out-grim.png" \
    "grim -t ppm $out-grim.ppm"
