#!/usr/bin/env bash
# Installs the S3-compatible server the integration tests run against
# (s3s-fs: the s3s project's S3 server over a local folder) into
# ${CARGO_TARGET_DIR:-target}/tools/bin, where
# tests/integration/common/s3.rs looks for it. Does nothing when that
# version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
crate=s3s-fs
# Pinned, as in tests/integration/common/s3.rs: 0.15 and later need Rust 1.96.
version=0.14.1
root="$(realpath -m "${CARGO_TARGET_DIR:-target}")/tools"
if [ "$("$root/bin/$crate" --version 2>/dev/null || true)" = "$crate $version" ]; then
    echo "$crate $version already in $root/bin"
    exit 0
fi
start=$SECONDS
# Without CARGO_TARGET_DIR cargo builds in a temporary folder and removes
# it: the project's target/ gets only the binary. `binary` is the feature
# that builds the program (the crate is a library without it).
env -u CARGO_TARGET_DIR cargo install "$crate" --version "$version" \
    --features binary --locked --force --root "$root"
echo "$crate $version installed in $root/bin in $((SECONDS - start)) s"
