#!/usr/bin/env bash
# Builds the Windows installer OUT_DIR/timecard-VERSION-setup.exe with
# Debian's makensis (resources/windows/timecard.nsi): a per-user install of
# timecard.exe into %LOCALAPPDATA%\Programs\Timecard with a Start-menu
# shortcut, an uninstaller and an Add/Remove Programs entry.
#
#   ci/package-windows-installer.sh VERSION OUT_DIR [TIMECARD_EXE]
#
# TIMECARD_EXE defaults to the release build ci/windows-package.sh makes
# (target/windows/x86_64-pc-windows-gnu/release/timecard.exe); it is
# stripped of its line tables first, as in the zip. The icon (.ico, 16 to
# 256 px) is made here from the PNGs ci/icons.sh renders.
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 VERSION OUT_DIR [TIMECARD_EXE]" >&2
    exit 2
fi
version="$1"
out_dir="$2"
root="$(cd "$(dirname "$0")/.." && pwd)"
exe="${3:-${CARGO_TARGET_DIR:-$root/target}/windows/x86_64-pc-windows-gnu/release/timecard.exe}"
for tool in makensis x86_64-w64-mingw32-strip convert; do
    command -v "$tool" >/dev/null || {
        echo "$0: $tool is missing (apt-get install nsis mingw-w64 imagemagick)" >&2
        exit 1
    }
done
[ -f "$exe" ] || {
    echo "$0: $exe does not exist; build it with ci/windows-package.sh" >&2
    exit 1
}
# VIProductVersion takes four numbers: 1.2.3-rc.1 is 1.2.3.0.
numeric="$(printf '%s' "$version" | sed -E 's/^([0-9]+)\.([0-9]+)\.([0-9]+).*/\1.\2.\3.0/')"
[[ "$numeric" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.0$ ]] || {
    echo "$0: the version must start with three numbers (1.2.3), not '$version'" >&2
    exit 2
}
mkdir -p "$out_dir"
out_dir="$(cd "$out_dir" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
x86_64-w64-mingw32-strip -o "$work/timecard.exe" "$exe"
icons="$root/resources/icons/hicolor"
convert $(for size in 16 24 32 48 64 128 256; do echo "$icons/${size}x$size/apps/timecard.png"; done) \
    "$work/timecard.ico"
out="$out_dir/timecard-$version-setup.exe"
makensis -V2 -INPUTCHARSET UTF8 \
    "-DVERSION=$version" "-DVERSION_NUMERIC=$numeric" \
    "-DEXE=$work/timecard.exe" "-DICON=$work/timecard.ico" \
    "-DLICENSE=$root/LICENSE" "-DOUTFILE=$out" \
    "$root/resources/windows/timecard.nsi"
echo "windows installer: $out ($(stat -c %s "$out") bytes)"
