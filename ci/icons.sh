#!/usr/bin/env bash
# Renders the app's icon (resources/icons/timecard.svg, the one source) to
# the PNG sizes the window, the desktop entry, the installers and the tray
# use: resources/icons/hicolor/SIZExSIZE/apps/timecard.png. The PNGs are
# kept in the repository, so building needs no renderer; run this after
# changing the SVG (needs rsvg-convert, Debian's librsvg2-bin).
set -euo pipefail
cd "$(dirname "$0")/../resources/icons"
for size in 16 24 32 48 64 128 256 512; do
    mkdir -p "hicolor/${size}x${size}/apps"
    rsvg-convert -w "$size" -h "$size" timecard.svg -o "hicolor/${size}x${size}/apps/timecard.png"
done
echo "rendered $(ls hicolor | wc -l) sizes into resources/icons/hicolor"
