//! Releases for the update and package tests: the server's update key and
//! published files, through `timecard-server release`, and versions of this
//! build (the same program restamped, U3).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use super::cli::{text, timecard_server};

/// This build's version.
pub const CURRENT: &str = env!("CARGO_PKG_VERSION");

/// The next minor version after this one.
pub fn next_version() -> String {
    let v: Vec<u64> = CURRENT.split('.').map(|p| p.parse().unwrap()).collect();
    format!("{}.{}.0", v[0], v[1] + 1)
}

/// An older version than this one.
pub fn previous_version() -> String {
    let v: Vec<u64> = CURRENT.split('.').map(|p| p.parse().unwrap()).collect();
    match (v[0], v[1], v[2]) {
        (a, b, c) if c > 0 => format!("{a}.{b}.{}", c - 1),
        (a, b, _) if b > 0 => format!("{a}.{}.9", b - 1),
        (a, _, _) => format!("{}.9.9", a - 1),
    }
}

/// A copy of `program` at `to`, its version tag set to `version`.
pub fn restamped(program: &Path, version: &str, to: &Path) -> PathBuf {
    let bytes = std::fs::read(program).unwrap();
    let stamped = timecard_core::release::restamp(&bytes, version).expect("a version tag");
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::write(to, stamped).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    to.to_owned()
}

/// `release keygen --out OUT` on the server's folder `srv`; the secret key.
pub fn keygen(srv: &Path, out: &Path) -> PathBuf {
    admin(srv, &["release", "keygen", "--out", out.to_str().unwrap()]);
    out.join("release-key.pk8")
}

/// `release publish FILE --version V --key KEY EXTRA…`; what it printed.
pub fn publish(srv: &Path, file: &Path, version: &str, key: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "release",
        "publish",
        file.to_str().unwrap(),
        "--version",
        version,
        "--key",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    admin(srv, &args)
}

fn admin(srv: &Path, args: &[&str]) -> String {
    let out = timecard_server(srv, args, None);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    text(&out)
}
