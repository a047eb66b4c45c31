//! Releases and updates (U1–U5): this program's version, what a server
//! offers for download, and whether the app may trust it.
//!
//! A release is one file — a `.deb`, a Windows installer, a plain binary —
//! described by its version, system, architecture, kind, name, size and
//! SHA-256, all of it signed together with an Ed25519 key (`ring`). The app
//! trusts a release only when the signature is good under the key it pinned
//! (U2) and the version is newer than its own (U3).

use std::fmt;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Room for the version in the tag below.
const TAG_LEN: usize = 64;
const TAG_PREFIX: &[u8] = b"timecard-version=";

/// The version, stored as a tag in the program's read-only data rather
/// than folded into the code, so that one place says it and release tools
/// (and the update tests) can restamp a built binary.
#[used]
static VERSION_TAG: [u8; TAG_LEN] = version_tag(env!("CARGO_PKG_VERSION"));

const fn version_tag(version: &str) -> [u8; TAG_LEN] {
    let mut tag = [0u8; TAG_LEN];
    let version = version.as_bytes();
    assert!(TAG_PREFIX.len() + version.len() < TAG_LEN);
    let mut i = 0;
    while i < TAG_PREFIX.len() {
        tag[i] = TAG_PREFIX[i];
        i += 1;
    }
    let mut j = 0;
    while j < version.len() {
        tag[i + j] = version[j];
        j += 1;
    }
    tag
}

/// This program's version (`0.1.0`).
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        // SAFETY: a plain read of a static array; volatile so that the
        // bytes are read from the binary, not assumed from the source.
        let tag = unsafe { std::ptr::read_volatile(&VERSION_TAG) };
        let text = &tag[TAG_PREFIX.len()..];
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        String::from_utf8_lossy(&text[..end]).into_owned()
    })
}

/// Rewrites the version tag in a built program's bytes (a copy of this
/// binary, for a package of another version). `None` when the bytes hold
/// no tag or the version does not fit.
pub fn restamp(program: &[u8], version: &str) -> Option<Vec<u8>> {
    if TAG_PREFIX.len() + version.len() >= TAG_LEN || semver::Version::parse(version).is_err() {
        return None;
    }
    let at = program
        .windows(TAG_PREFIX.len())
        .position(|w| w == TAG_PREFIX)?;
    let mut out = program.to_vec();
    out[at..at + TAG_LEN].copy_from_slice(&version_tag(version));
    Some(out)
}

/// Whether `offered` is a newer version than `current` (semantic
/// versioning; a version that does not parse is never newer).
pub fn is_newer(offered: &str, current: &str) -> bool {
    match (
        semver::Version::parse(offered),
        semver::Version::parse(current),
    ) {
        (Ok(offered), Ok(current)) => offered > current,
        _ => false,
    }
}

/// What a release file is, and so how the app installs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Kind {
    /// A Debian package (`dpkg -i`).
    Deb,
    /// A Windows installer (`setup.exe /S`).
    Installer,
    /// The program itself, replaced in place.
    Binary,
    /// A zip of the Windows programs.
    Zip,
    /// The server's container image.
    Image,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Deb => "deb",
            Kind::Installer => "installer",
            Kind::Binary => "binary",
            Kind::Zip => "zip",
            Kind::Image => "image",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        [
            Kind::Deb,
            Kind::Installer,
            Kind::Binary,
            Kind::Zip,
            Kind::Image,
        ]
        .into_iter()
        .find(|k| k.name() == text)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The system this program runs on, as releases name it (`linux`, `windows`).
pub fn this_os() -> &'static str {
    std::env::consts::OS
}

/// The architecture this program runs on (`x86_64`, `aarch64`).
pub fn this_arch() -> &'static str {
    std::env::consts::ARCH
}

/// One published file, as the server lists it and the app checks it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Release {
    pub version: String,
    pub os: String,
    pub arch: String,
    pub kind: Kind,
    /// The file's name (`timecard_0.2.0_amd64.deb`).
    pub name: String,
    pub size: u64,
    /// The file's SHA-256, lowercase hex.
    pub sha256: String,
    /// The Ed25519 signature of `signed_text()`, base64.
    pub signature: String,
    /// The public key that made it (base64 of 32 bytes).
    pub key: String,
}

impl Release {
    /// The bytes the signature covers: every field that says what the file
    /// is, so a signed 0.1.0 cannot be served as 0.2.0 or as another system's.
    pub fn signed_text(&self) -> String {
        format!(
            "timecard-release-1\nversion={}\nos={}\narch={}\nkind={}\nname={}\nsize={}\nsha256={}\n",
            self.version, self.os, self.arch, self.kind, self.name, self.size, self.sha256
        )
    }

    /// Checks the signature under `key` (not under the key the release
    /// names: the caller decides which key it trusts).
    pub fn verify(&self, key: &PublicKey) -> Result<(), ReleaseError> {
        let signature = BASE64
            .decode(self.signature.trim())
            .map_err(|_| ReleaseError::BadSignature)?;
        UnparsedPublicKey::new(&ED25519, key.0)
            .verify(self.signed_text().as_bytes(), &signature)
            .map_err(|_| ReleaseError::BadSignature)
    }

    /// Checks that `bytes` are the file this release describes.
    pub fn check_file(&self, bytes: &[u8]) -> Result<(), ReleaseError> {
        if bytes.len() as u64 != self.size {
            return Err(ReleaseError::WrongSize {
                expected: self.size,
                got: bytes.len() as u64,
            });
        }
        if sha256_hex(bytes) != self.sha256 {
            return Err(ReleaseError::WrongChecksum);
        }
        Ok(())
    }
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why a release is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    #[error("the release's signature does not match the update key")]
    BadSignature,
    #[error("the downloaded file has {got} bytes where the release says {expected}")]
    WrongSize { expected: u64, got: u64 },
    #[error("the downloaded file is not the one that was signed (its SHA-256 differs)")]
    WrongChecksum,
    #[error("not an update key: {0}")]
    BadKey(String),
}

/// An Ed25519 public key that signs releases.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// From its base64 text (as `release-key.pub` and the API carry it).
    pub fn parse(text: &str) -> Result<PublicKey, ReleaseError> {
        let bytes = BASE64
            .decode(text.trim())
            .map_err(|e| ReleaseError::BadKey(e.to_string()))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| ReleaseError::BadKey("an Ed25519 key has 32 bytes".into()))?;
        Ok(PublicKey(bytes))
    }

    /// The key in base64.
    pub fn text(&self) -> String {
        BASE64.encode(self.0)
    }

    /// A short form for people to compare: the first 16 bytes of the
    /// key's SHA-256, `AB:CD:…`.
    pub fn fingerprint(&self) -> String {
        Sha256::digest(self.0)[..16]
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

/// The key built into this program at compile time (`TIMECARD_UPDATE_KEY`,
/// base64), trusted beside the one pinned from the server.
pub fn built_in_key() -> Option<PublicKey> {
    option_env!("TIMECARD_UPDATE_KEY").and_then(|text| PublicKey::parse(text).ok())
}

/// A signing key pair (PKCS#8, as `ring` writes it).
pub struct SigningKey(Ed25519KeyPair);

impl SigningKey {
    /// A new key pair: its PKCS#8 document, to be kept secret.
    pub fn generate() -> Result<Vec<u8>, ReleaseError> {
        let rng = ring::rand::SystemRandom::new();
        Ed25519KeyPair::generate_pkcs8(&rng)
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| ReleaseError::BadKey("the system's random source failed".into()))
    }

    pub fn from_pkcs8(document: &[u8]) -> Result<SigningKey, ReleaseError> {
        Ed25519KeyPair::from_pkcs8(document)
            .map(SigningKey)
            .map_err(|e| ReleaseError::BadKey(format!("not an Ed25519 PKCS#8 key ({e})")))
    }

    pub fn public(&self) -> PublicKey {
        let mut key = [0u8; 32];
        key.copy_from_slice(self.0.public_key().as_ref());
        PublicKey(key)
    }

    /// Fills in `release.key` and `release.signature`.
    pub fn sign(&self, release: &mut Release) {
        release.key = self.public().text();
        release.signature = BASE64.encode(self.0.sign(release.signed_text().as_bytes()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(bytes: &[u8]) -> Release {
        Release {
            version: "0.2.0".into(),
            os: "linux".into(),
            arch: "x86_64".into(),
            kind: Kind::Binary,
            name: "timecard".into(),
            size: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            signature: String::new(),
            key: String::new(),
        }
    }

    #[test]
    fn a_signed_release_verifies_and_any_change_breaks_it() {
        let key = SigningKey::from_pkcs8(&SigningKey::generate().unwrap()).unwrap();
        let mut good = release(b"program");
        key.sign(&mut good);
        assert_eq!(good.verify(&key.public()), Ok(()));
        assert_eq!(good.check_file(b"program"), Ok(()));
        assert_eq!(
            good.check_file(b"progran"),
            Err(ReleaseError::WrongChecksum)
        );

        let mut relabelled = good.clone();
        relabelled.version = "9.0.0".into();
        assert_eq!(
            relabelled.verify(&key.public()),
            Err(ReleaseError::BadSignature)
        );
        let other = SigningKey::from_pkcs8(&SigningKey::generate().unwrap()).unwrap();
        assert_eq!(
            good.verify(&other.public()),
            Err(ReleaseError::BadSignature)
        );
        assert_eq!(PublicKey::parse(&good.key), Ok(key.public()));
    }

    #[test]
    fn versions_compare_as_semver() {
        assert!(is_newer("0.10.0", "0.9.1"));
        assert!(is_newer("1.0.0", "1.0.0-rc.1"));
        assert!(!is_newer("0.1.0", "0.1.0"));
        assert!(!is_newer("0.0.9", "0.1.0"));
        assert!(!is_newer("latest", "0.1.0"));
    }

    #[test]
    fn the_tag_holds_this_version_and_restamps() {
        assert_eq!(version(), env!("CARGO_PKG_VERSION"));
        let program = [b"\x7fELF...".as_slice(), &VERSION_TAG, b"more"].concat();
        let bumped = restamp(&program, "7.8.9").unwrap();
        assert_eq!(bumped.len(), program.len());
        let at = TAG_PREFIX.len() + 7;
        assert_eq!(&bumped[at..at + 6], b"7.8.9\0");
        assert!(restamp(&program, "not a version").is_none());
        assert!(restamp(b"no tag here", "1.0.0").is_none());
    }
}
