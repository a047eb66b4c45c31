#!/usr/bin/env bash
# Builds the server's OCI image, OUT_DIR/timecard-server-VERSION-oci.tar (an
# oci-archive: `podman load -i` / `docker load -i`), with buildah from
# scratch: nothing is pulled from a registry.
#
#   ci/package-image.sh SERVER_BINARY VERSION OUT_DIR
#
# SERVER_BINARY is any build of timecard-server (the release one for
# packages; the tests pass their debug build). The root filesystem is made
# here and holds only:
#   /usr/bin/timecard-server       the binary, stripped
#   the shared libraries it links  (from `ldd`: libc, libm, libgcc_s, the
#                                  loader), copied from this machine
#   /etc/passwd, /etc/group        root and `timecard` (uid and gid 10001)
#   /etc/nsswitch.conf             files, then DNS (PostgreSQL and S3 by name)
#   /etc/ssl/certs/ca-certificates.crt   this machine's CA bundle, for an S3
#                                  store or PostgreSQL over https/TLS
#   /data                          the server's data folder, 0700, owned by
#                                  `timecard`; a volume
#   /tmp                           1777
# The server runs as `timecard` (10001:10001): `timecard-server serve
# --listen 0.0.0.0:8443` with TIMECARD_SERVER_DATA=/data; other commands
# replace the arguments (`podman run --rm -v …:/data IMAGE user add ann`).
#
# Containers cannot be started on this CI machine (it is itself a
# container without the namespaces and cgroups podman needs), so
# tests/integration/server_image.rs runs the image's root filesystem,
# unpacked from this archive, with chroot as uid 10001 instead.
#
# Needs buildah (Debian: buildah) and binutils' strip. buildah keeps its
# storage in a temporary folder (vfs driver), not in the system's.
set -euo pipefail
if [ $# -ne 3 ]; then
    echo "usage: $0 SERVER_BINARY VERSION OUT_DIR" >&2
    exit 2
fi
binary="$1"
version="$2"
out_dir="$3"
for tool in buildah strip ldd; do
    command -v "$tool" >/dev/null || {
        echo "$0: $tool is missing (apt-get install buildah binutils)" >&2
        exit 1
    }
done
[ -x "$binary" ] || {
    echo "$0: $binary is not an executable file" >&2
    exit 1
}
mkdir -p "$out_dir"
out="$(cd "$out_dir" && pwd)/timecard-server-$version-oci.tar"
work="$(mktemp -d)"
buildah=(buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs)
container=""
cleanup() {
    if [ -n "$container" ]; then
        "${buildah[@]}" rm "$container" >/dev/null 2>&1 || true
    fi
    # vfs layers hold files owned by others: removed as root, or by buildah.
    "${buildah[@]}" rmi --all --force >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

rootfs="$work/rootfs"
mkdir -p "$rootfs"/{usr/bin,etc/ssl/certs,data,tmp}
strip -o "$rootfs/usr/bin/timecard-server" "$binary"
# The loader and libraries at the paths the binary names (a static build
# has none).
if ldd "$binary" >/dev/null 2>&1; then
    ldd "$binary" | grep -oE '/[^ ]+' | sort -u | while read -r lib; do
        mkdir -p "$rootfs$(dirname "$lib")"
        cp -L "$lib" "$rootfs$lib"
    done
fi
cat >"$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
timecard:x:10001:10001:Timecard server:/data:/sbin/nologin
PASSWD
cat >"$rootfs/etc/group" <<'GROUP'
root:x:0:
timecard:x:10001:
GROUP
cat >"$rootfs/etc/nsswitch.conf" <<'NSS'
passwd: files
group: files
hosts: files dns
NSS
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
else
    echo "$0: warning: no /etc/ssl/certs/ca-certificates.crt here; the image cannot check an S3 store's certificate" >&2
fi
chmod 1777 "$rootfs/tmp"
chown 10001:10001 "$rootfs/data"
chmod 0700 "$rootfs/data"
# One layer, with the owners above (buildah keeps a tar's owners).
tar -C "$rootfs" --numeric-owner --sort=name -cf "$work/rootfs.tar" .

container="$("${buildah[@]}" from scratch)"
"${buildah[@]}" add --quiet "$container" "$work/rootfs.tar" / >/dev/null
"${buildah[@]}" config \
    --os linux --arch amd64 \
    --user 10001:10001 \
    --workingdir /data \
    --env TIMECARD_SERVER_DATA=/data \
    --entrypoint '["/usr/bin/timecard-server"]' \
    --cmd 'serve --listen 0.0.0.0:8443' \
    --port 8443/tcp \
    --volume /data \
    --label org.opencontainers.image.title=timecard-server \
    --label "org.opencontainers.image.version=$version" \
    --label org.opencontainers.image.description="Timecard's sync server" \
    --label org.opencontainers.image.licenses=MIT \
    "$container"
rm -f "$out"
"${buildah[@]}" commit --quiet --disable-compression=false --format oci \
    "$container" "oci-archive:$out:timecard-server:$version" >/dev/null
size=$(stat -c %s "$out")
echo "server image: $out ($size bytes, $((size / 1024 / 1024)) MB)"
