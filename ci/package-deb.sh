#!/usr/bin/env bash
# Builds one Debian package from a built program:
#
#   ci/package-deb.sh app|server PROGRAM VERSION OUT_DIR
#
# app:    OUT_DIR/timecard_VERSION_amd64.deb — /usr/bin/timecard (stripped),
#         the desktop entry, AppStream metainfo, hicolor icons and the
#         autostart entry's template; its debug info in
#         timecard-dbgsym_VERSION_amd64.deb (/usr/lib/debug/.build-id/).
# server: OUT_DIR/timecard-server_VERSION_amd64.deb — /usr/bin/timecard-server,
#         the hardened unit, a `timecard-server` system user and
#         /var/lib/timecard-server (0700); data kept on remove, gone on purge;
#         and timecard-server-dbgsym_VERSION_amd64.deb.
#
# When PROGRAM carries another version than VERSION (a package of an older
# or newer version made from today's build, for the upgrade tests), the
# packaged copy is restamped (see timecard_core::release).
set -euo pipefail
cd "$(dirname "$0")/.."
kind="$1" program="$2" version="$3" out="$4"
case "$kind" in
    app) name=timecard ;;
    server) name=timecard-server ;;
    *) echo "usage: $0 app|server PROGRAM VERSION OUT_DIR" >&2; exit 2 ;;
esac
homepage="${TIMECARD_HOMEPAGE:-https://timecard.app}"
# xz for releases; the install tests ask for quick gzip (TIMECARD_DEB_COMPRESS=gzip).
compress="${TIMECARD_DEB_COMPRESS:-xz}"
level=9
[ "$compress" = gzip ] && level=1
arch=amd64
mkdir -p "$out"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
root="$stage/root" dbg="$stage/dbgsym"
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$dbg/DEBIAN"

# The program at VERSION: restamped when it says another.
cp "$program" "$stage/$name"
python3 - "$stage/$name" "$version" <<'PY'
import sys
path, version = sys.argv[1], sys.argv[2]
data = bytearray(open(path, 'rb').read())
prefix = b'timecard-version='
at = data.find(prefix)
if at < 0:
    sys.exit(f'{path} carries no version tag')
tag = prefix + version.encode()
if len(tag) >= 64:
    sys.exit(f'version {version} is too long')
if data[at:at + 64] != tag + b'\0' * (64 - len(tag)):
    data[at:at + 64] = tag + b'\0' * (64 - len(tag))
    open(path, 'wb').write(data)
PY

# Debug info split off into the -dbgsym package, found by build id.
build_id="$(readelf -n "$stage/$name" | awk '/Build ID/ { print $3 }')"
if [ -n "$build_id" ]; then
    debug_dir="$dbg/usr/lib/debug/.build-id/${build_id:0:2}"
    mkdir -p "$debug_dir"
    objcopy --only-keep-debug "$stage/$name" "$debug_dir/${build_id:2}.debug"
    chmod 644 "$debug_dir/${build_id:2}.debug"
fi
objcopy --strip-all "$stage/$name" "$root/usr/bin/$name"
chmod 755 "$root/usr/bin/$name"

# The oldest C library the program asks for.
glibc="$(objdump -T "$root/usr/bin/$name" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)"

if [ "$kind" = app ]; then
    install -Dm644 resources/linux/timecard.desktop "$root/usr/share/applications/timecard.desktop"
    install -Dm644 resources/linux/timecard-autostart.desktop "$root/usr/share/timecard/timecard-autostart.desktop"
    # How this copy is updated (U4): by the package manager.
    echo deb >"$stage/installed-by"
    install -Dm644 "$stage/installed-by" "$root/usr/share/timecard/installed-by"
    sed -e "s|@HOMEPAGE@|$homepage|g" -e "s|@VERSION@|$version|g" -e "s|@DATE@|$(date -u +%F)|g" \
        resources/linux/app.timecard.Timecard.metainfo.xml >"$stage/metainfo.xml"
    install -Dm644 "$stage/metainfo.xml" "$root/usr/share/metainfo/app.timecard.Timecard.metainfo.xml"
    for png in resources/icons/hicolor/*/apps/timecard.png; do
        size="$(basename "$(dirname "$(dirname "$png")")")"
        install -Dm644 "$png" "$root/usr/share/icons/hicolor/$size/apps/timecard.png"
    done
    install -Dm644 resources/icons/timecard.svg "$root/usr/share/icons/hicolor/scalable/apps/timecard.svg"
    depends="libc6 (>= $glibc), libgcc-s1, libgl1, libegl1, libx11-6, libx11-xcb1, libxcursor1, libxi6, libxrandr2, libxkbcommon0, libxkbcommon-x11-0, libwayland-client0, libwayland-egl1, libwayland-cursor0"
    description="Time tracker for freelancers paid by the hour
 Timecard records work for hourly contracts in ten-minute segments, with a
 screenshot and an activity level for each, and uploads them to the team's
 own server over TLS. Time recorded offline is kept and uploaded later,
 never lost and never counted twice. Without a server, a built-in local one
 keeps the time on this computer."
    cat >"$root/DEBIAN/postinst" <<'SH'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    command -v update-desktop-database >/dev/null && update-desktop-database -q /usr/share/applications || true
    command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t /usr/share/icons/hicolor || true
fi
SH
    cp "$root/DEBIAN/postinst" "$root/DEBIAN/postrm"
    sed -i 's/\[ "$1" = configure \]/[ "$1" = remove ] || [ "$1" = purge ]/' "$root/DEBIAN/postrm"
    extra="Recommends: libgl1-mesa-dri
Suggests: xdg-desktop-portal"
    section=utils
else
    sed -e 's|/usr/local/bin/timecard-server|/usr/bin/timecard-server|g' \
        resources/timecard-server.service >"$stage/timecard-server.service"
    install -Dm644 "$stage/timecard-server.service" "$root/usr/lib/systemd/system/timecard-server.service"
    # The package makes the user and the folder: the unit runs as that
    # user instead of a dynamic one, so admin commands (`sudo -u
    # timecard-server timecard-server …`) own what they write.
    mkdir -p "$root/usr/lib/systemd/system/timecard-server.service.d"
    cat >"$root/usr/lib/systemd/system/timecard-server.service.d/package.conf" <<'UNIT'
[Service]
DynamicUser=no
User=timecard-server
Group=timecard-server
UNIT
    chmod 644 "$root/usr/lib/systemd/system/timecard-server.service.d/package.conf"
    depends="libc6 (>= $glibc), libgcc-s1, adduser"
    description="Sync server and web dashboard for Timecard
 The server the Timecard app uploads tracked time to, over HTTPS: contracts,
 weekly limits, the work diary and timesheets clients review, problem
 reports, and downloads of the app with signed updates. SQLite by default,
 or PostgreSQL and an S3-compatible store."
    cat >"$root/DEBIAN/postinst" <<'SH'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    if ! getent passwd timecard-server >/dev/null; then
        adduser --system --group --quiet --home /var/lib/timecard-server \
            --no-create-home --gecos "Timecard sync server" timecard-server
    fi
    install -d -m 0700 -o timecard-server -g timecard-server /var/lib/timecard-server
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload || true
    fi
    if [ -z "$2" ]; then
        cat <<'TEXT'
timecard-server is installed; it is not started yet. Next:
  1. Make the first admin (the password is read from standard input):
       sudo -u timecard-server timecard-server --data /var/lib/timecard-server user add admin --role admin --password-stdin
  2. Give the name your team types:  sudo systemctl edit timecard-server
  3. Start it:                       sudo systemctl enable --now timecard-server
  4. Its certificate's fingerprint:  journalctl -u timecard-server
TEXT
    elif [ -d /run/systemd/system ] && systemctl is-active --quiet timecard-server; then
        systemctl try-restart timecard-server || true
    fi
fi
SH
    cat >"$root/DEBIAN/prerm" <<'SH'
#!/bin/sh
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
    systemctl disable --now timecard-server >/dev/null 2>&1 || true
fi
SH
    cat >"$root/DEBIAN/postrm" <<'SH'
#!/bin/sh
set -e
if [ "$1" = purge ]; then
    rm -rf /var/lib/timecard-server
    if getent passwd timecard-server >/dev/null; then
        deluser --system --quiet timecard-server >/dev/null 2>&1 || userdel timecard-server || true
    fi
    if getent group timecard-server >/dev/null; then
        delgroup --system --quiet timecard-server >/dev/null 2>&1 || groupdel timecard-server || true
    fi
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
fi
SH
    extra="Suggests: postgresql"
    section=net
fi
# Debian's policy: the licence and a changelog in /usr/share/doc.
doc="$root/usr/share/doc/$name"
mkdir -p "$doc"
{
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: timecard"
    echo "Source: $homepage"
    echo
    echo "Files: *"
    echo "Copyright: 2026 The Timecard authors"
    echo "License: MIT"
    sed -e 's/^$/./' -e 's/^/ /' LICENSE
} >"$doc/copyright"
printf '%s (%s) stable; urgency=medium\n\n  * Release %s.\n\n -- Timecard <packages@timecard.app>  %s\n' \
    "$name" "$version" "$version" "$(date -uR)" | gzip -9n >"$doc/changelog.gz"
chmod 644 "$doc/copyright" "$doc/changelog.gz"
chmod 755 "$root/DEBIAN/postinst" "$root/DEBIAN/postrm"
[ -f "$root/DEBIAN/prerm" ] && chmod 755 "$root/DEBIAN/prerm"

size_kb="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat >"$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: $arch
Maintainer: Timecard <packages@timecard.app>
Installed-Size: $size_kb
Depends: $depends
$extra
Section: $section
Priority: optional
Homepage: $homepage
Description: $description
CONTROL
dpkg-deb --root-owner-group -Z"$compress" -z"$level" --build "$root" "$out/${name}_${version}_${arch}.deb" >/dev/null

if [ -n "$build_id" ]; then
    cat >"$dbg/DEBIAN/control" <<CONTROL
Package: $name-dbgsym
Version: $version
Architecture: $arch
Maintainer: Timecard <packages@timecard.app>
Installed-Size: $(du -sk --exclude=DEBIAN "$dbg" | cut -f1)
Depends: $name (= $version)
Section: debug
Priority: optional
Description: debug symbols for $name
Build-Ids: $build_id
CONTROL
    dpkg-deb --root-owner-group -Z"$compress" -z"$level" --build "$dbg" "$out/${name}-dbgsym_${version}_${arch}.deb" >/dev/null
fi
echo "$out/${name}_${version}_${arch}.deb ($(du -k "$out/${name}_${version}_${arch}.deb" | cut -f1) KB; program $(du -k "$root/usr/bin/$name" | cut -f1) KB stripped)"
