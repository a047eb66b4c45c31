#!/usr/bin/env bash
# Builds timecard.exe and timecard-server.exe for 64-bit Windows
# (x86_64-pc-windows-gnu, with mingw-w64) and packs them with the README and
# the licence into target/…/timecard-VERSION-windows-x86_64.zip.
#
# The build goes to the target folder's windows/, where the Wine tests
# (tests/integration/windows_wine.rs) build the same release binaries: in
# CI this step builds them once for both; `--tests` also builds the unit
# tests the Wine tests run.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-pc-windows-gnu
rustup target add "$target" >/dev/null 2>&1 || rustup target list --installed | grep -qx "$target"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/windows"
start=$(date +%s)
cargo build --release --locked --target "$target" --bins
version="$(cargo pkgid -p timecard | sed 's/.*[#@]//')"
release="$CARGO_TARGET_DIR/$target/release"
stage="$CARGO_TARGET_DIR/timecard-$version-windows-x86_64"
zip_file="$stage.zip"
rm -rf "$stage" "$zip_file"
mkdir -p "$stage"
# Without the line tables the release profile keeps for backtraces (about
# five times the code's size in a PE file).
for exe in timecard.exe timecard-server.exe; do
    x86_64-w64-mingw32-strip -o "$stage/$exe" "$release/$exe"
done
cp README.md "$stage/README.md"
cp LICENSE "$stage/LICENSE.txt"
(cd "$(dirname "$stage")" && zip -q -r -9 "$zip_file" "$(basename "$stage")")
rm -rf "$stage"
# The unit tests the Wine tests run as Windows programs, built here too
# (with --tests) so that the test run does not compile beside timing tests.
if [ "${1:-}" = "--tests" ]; then
    cargo test --release --locked --target "$target" --workspace --lib --bins --no-run
fi
echo "windows package: $zip_file ($(du -k "$zip_file" | cut -f1) KB), built in $(($(date +%s) - start)) s"
unzip -l "$zip_file"
