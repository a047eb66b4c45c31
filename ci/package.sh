#!/usr/bin/env bash
# Makes every package, installer and image of a release into
# $CARGO_TARGET_DIR/packages/ (target/packages/ by default):
#
#   timecard_VERSION_amd64.deb (+ -dbgsym)          ci/package-deb.sh app
#   timecard-server_VERSION_amd64.deb (+ -dbgsym)   ci/package-deb.sh server
#   timecard-VERSION-setup.exe                      ci/package-windows-installer.sh
#   timecard-VERSION-windows-x86_64.zip             ci/windows-package.sh
#   timecard-server-VERSION-oci.tar                 ci/package-image.sh
#
# It builds the release programs first (Linux, then Windows with
# mingw-w64). The tools it needs are installed by ci/install-system-packages.sh
# (dpkg-dev's objcopy from binutils, nsis, buildah, imagemagick).
#
#   ci/package.sh [--version V] [--no-build]
#
# --no-build packages what target/release and target/windows hold.
# Publish the result to a server with
#   timecard-server release publish target/packages/*.deb target/packages/*-setup.exe --version V --key KEY
set -euo pipefail
cd "$(dirname "$0")/.."
build=yes
version="$(cargo pkgid -p timecard | sed 's/.*[#@]//')"
while [ $# -gt 0 ]; do
    case "$1" in
        --version) version="$2"; shift 2 ;;
        --no-build) build=no; shift ;;
        *) echo "usage: $0 [--version V] [--no-build]" >&2; exit 2 ;;
    esac
done
target="${CARGO_TARGET_DIR:-$PWD/target}"
out="$target/packages"
mkdir -p "$out"
start=$(date +%s)
if [ "$build" = yes ]; then
    cargo build --release --locked --bins
    ci/windows-package.sh
fi
release="$target/release"
ci/package-deb.sh app "$release/timecard" "$version" "$out"
ci/package-deb.sh server "$release/timecard-server" "$version" "$out"
ci/package-windows-installer.sh "$version" "$out"
zip_version="$(cargo pkgid -p timecard | sed 's/.*[#@]//')"
cp "$target/windows/timecard-$zip_version-windows-x86_64.zip" "$out/timecard-$version-windows-x86_64.zip"
ci/package-image.sh "$release/timecard-server" "$version" "$out"

# The figures the release checklist asks for (docs/RELEASING.md).
stripped="$(mktemp)"
objcopy --strip-all "$release/timecard" "$stripped"
strip_size="$(stat -c %s "$stripped")"
rm -f "$stripped"
echo
echo "packages in $out, made in $(($(date +%s) - start)) s:"
printf '  %-48s %8s\n' "stripped timecard (budget 40 MB)" "$((strip_size / 1024)) KB"
for file in "$out"/*"$version"*; do
    printf '  %-48s %8s\n' "$(basename "$file")" "$(($(stat -c %s "$file") / 1024)) KB"
done
