//! What the server offers for download (U1): installers, packages and
//! programs in the data folder's `releases/VERSION/`, each beside its
//! signed description `NAME.json`. `release publish` puts them there (the
//! server need not stop); the API and the `/download` page read them.

use std::io;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use timecard_core::fs::durable;
use timecard_core::fs::read::read_regular;
use timecard_core::release::{Kind, PublicKey, Release, SigningKey, is_newer, sha256_hex};

/// The folder inside the data folder.
pub const FOLDER: &str = "releases";
/// Where `release keygen` writes the secret and the public key.
pub const SECRET_KEY_FILE: &str = "release-key.pk8";
pub const PUBLIC_KEY_FILE: &str = "release-key.pub";
/// The largest file that may be published (an installer is ~15 MB).
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;
/// Descriptions are small; anything bigger is not one.
const MAX_DESCRIPTION_BYTES: u64 = 16 * 1024;

/// The programs releases are made of.
pub const PROGRAMS: [&str; 2] = ["timecard", "timecard-server"];

/// The releases of one server.
#[derive(Clone, Debug)]
pub struct Catalog {
    dir: PathBuf,
}

/// What `publish` is told or works out about a file.
#[derive(Clone, Debug, Default)]
pub struct Labels {
    pub os: Option<String>,
    pub arch: Option<String>,
    pub kind: Option<Kind>,
    pub program: Option<String>,
}

/// One release with the program it is of (`timecard` or `timecard-server`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Published {
    pub program: String,
    #[serde(flatten)]
    pub release: Release,
    /// When it was published (RFC 3339).
    pub published_at: String,
}

impl Catalog {
    pub fn new(data_dir: &Path) -> Catalog {
        Catalog {
            dir: data_dir.join(FOLDER),
        }
    }

    /// Copies `file` in as `version`, signed with `key`; replaces a file
    /// of the same name and version.
    pub fn publish(
        &self,
        file: &Path,
        version: &str,
        key: &SigningKey,
        labels: &Labels,
        now: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<Published> {
        if semver::Version::parse(version).is_err() {
            bail!("{version:?} is not a version such as 0.2.0");
        }
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| is_safe_name(n))
            .with_context(|| {
                format!(
                    "{}: a release's file name is letters, digits, '.', '_', '-' and '+'",
                    file.display()
                )
            })?
            .to_owned();
        let bytes = read_regular(file, MAX_FILE_BYTES)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let guessed = guess(&name, &bytes);
        let program = labels
            .program
            .clone()
            .or(guessed.program)
            .context("say which program this is with --program timecard|timecard-server")?;
        if !PROGRAMS.contains(&program.as_str()) {
            bail!("--program is timecard or timecard-server, not {program:?}");
        }
        let mut release = Release {
            version: version.to_owned(),
            os: labels
                .os
                .clone()
                .or(guessed.os)
                .context("say which system this is for with --os linux|windows")?,
            arch: labels
                .arch
                .clone()
                .or(guessed.arch)
                .context("say which processor this is for with --arch x86_64|aarch64")?,
            kind: labels
                .kind
                .or(guessed.kind)
                .context("say what this file is with --kind deb|installer|binary|zip|image")?,
            name: name.clone(),
            size: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
            signature: String::new(),
            key: String::new(),
        };
        for label in [&release.os, &release.arch] {
            if !is_safe_name(label) {
                bail!("{label:?} is not a system or processor name");
            }
        }
        key.sign(&mut release);
        let published = Published {
            program,
            release,
            published_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        let folder = self.dir.join(version);
        durable::create_private_dir_all(&folder)?;
        durable::write_private_file(&folder, &name, &bytes)?;
        durable::write_private_file(
            &folder,
            &format!("{name}.json"),
            &serde_json::to_vec_pretty(&published)?,
        )?;
        Ok(published)
    }

    /// Every release, newest version first.
    pub fn list(&self) -> io::Result<Vec<Published>> {
        let mut all = Vec::new();
        let versions = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(all),
            Err(e) => return Err(e),
        };
        for version in versions {
            let version = version?;
            if !version.file_type()?.is_dir() {
                continue;
            }
            for entry in std::fs::read_dir(version.path())? {
                let path = entry?.path();
                if path.extension().is_none_or(|e| e != "json") {
                    continue;
                }
                match read_regular(&path, MAX_DESCRIPTION_BYTES)
                    .ok()
                    .and_then(|bytes| serde_json::from_slice::<Published>(&bytes).ok())
                {
                    Some(p) if self.holds(&p) => all.push(p),
                    _ => log::warn!("{} is not a release description; skipped", path.display()),
                }
            }
        }
        all.sort_by(|a, b| {
            let (va, vb) = (
                semver::Version::parse(&a.release.version).ok(),
                semver::Version::parse(&b.release.version).ok(),
            );
            vb.cmp(&va)
                .then_with(|| a.release.os.cmp(&b.release.os))
                .then_with(|| a.release.name.cmp(&b.release.name))
        });
        Ok(all)
    }

    /// Whether a description names a file that is where it should be.
    fn holds(&self, p: &Published) -> bool {
        is_safe_name(&p.release.name)
            && semver::Version::parse(&p.release.version).is_ok()
            && self.file(&p.release.version, &p.release.name).is_some()
    }

    /// The newest release of `program` for a system, architecture and kind.
    pub fn latest(
        &self,
        program: &str,
        os: &str,
        arch: &str,
        kind: Kind,
    ) -> io::Result<Option<Published>> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|p| {
                p.program == program
                    && p.release.os == os
                    && p.release.arch == arch
                    && p.release.kind == kind
            })
            .reduce(|best, p| {
                if is_newer(&p.release.version, &best.release.version) {
                    p
                } else {
                    best
                }
            }))
    }

    /// The path of a published file, when the name and version are ones
    /// `publish` could have written and the file is there.
    pub fn file(&self, version: &str, name: &str) -> Option<PathBuf> {
        if !is_safe_name(version) || !is_safe_name(name) || name.ends_with(".json") {
            return None;
        }
        let path = self.dir.join(version).join(name);
        path.symlink_metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|_| path)
    }
}

/// A release's names: ASCII letters, digits, `.`, `_`, `-`, `+`; not
/// starting with a dot; at most 128 bytes. No path can be made of one.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
}

/// What a file's name and first bytes say it is.
fn guess(name: &str, bytes: &[u8]) -> Labels {
    let program = if name.starts_with("timecard-server") {
        Some("timecard-server".to_owned())
    } else if name.starts_with("timecard") {
        Some("timecard".to_owned())
    } else {
        None
    };
    let deb_arch = |name: &str| {
        if name.ends_with("_amd64.deb") {
            Some("x86_64".to_owned())
        } else if name.ends_with("_arm64.deb") {
            Some("aarch64".to_owned())
        } else {
            None
        }
    };
    let (os, arch, kind) = if name.ends_with(".deb") {
        (Some("linux"), deb_arch(name), Some(Kind::Deb))
    } else if name.ends_with("-setup.exe") {
        (Some("windows"), pe_arch(bytes), Some(Kind::Installer))
    } else if name.ends_with(".zip") {
        (Some("windows"), Some("x86_64".to_owned()), Some(Kind::Zip))
    } else if name.ends_with("-oci.tar") {
        (Some("linux"), Some("x86_64".to_owned()), Some(Kind::Image))
    } else if bytes.starts_with(b"\x7fELF") {
        (Some("linux"), elf_arch(bytes), Some(Kind::Binary))
    } else if bytes.starts_with(b"MZ") {
        (Some("windows"), pe_arch(bytes), Some(Kind::Binary))
    } else {
        (None, None, None)
    };
    Labels {
        os: os.map(str::to_owned),
        arch,
        kind,
        program,
    }
}

/// The machine an ELF file is for (e_machine at offset 18, little-endian).
fn elf_arch(bytes: &[u8]) -> Option<String> {
    match bytes.get(18..20)? {
        [0x3e, 0] => Some("x86_64".into()),
        [0xb7, 0] => Some("aarch64".into()),
        _ => None,
    }
}

/// The machine a PE file is for (the COFF header after `PE\0\0`).
fn pe_arch(bytes: &[u8]) -> Option<String> {
    let at = u32::from_le_bytes(bytes.get(0x3c..0x40)?.try_into().ok()?) as usize;
    if bytes.get(at..at + 4)? != b"PE\0\0" {
        return None;
    }
    match bytes.get(at + 4..at + 6)? {
        [0x64, 0x86] => Some("x86_64".into()),
        [0x64, 0xaa] => Some("aarch64".into()),
        // NSIS installers are 32-bit programs that install 64-bit ones.
        [0x4c, 0x01] => Some("x86_64".into()),
        _ => None,
    }
}

/// Makes a key pair in `out`: the secret key (0600) and the public key
/// (base64, one line). Refuses to replace an existing secret key.
pub fn keygen(out: &Path) -> anyhow::Result<PublicKey> {
    let secret = out.join(SECRET_KEY_FILE);
    if secret.exists() {
        bail!(
            "{} exists; a new key would lock out every app that pinned the old one",
            secret.display()
        );
    }
    let document = SigningKey::generate()?;
    let public = SigningKey::from_pkcs8(&document)?.public();
    durable::create_private_dir_all(out)?;
    durable::write_private_file(out, SECRET_KEY_FILE, &document)?;
    durable::write_file(
        out,
        PUBLIC_KEY_FILE,
        format!("{}\n", public.text()).as_bytes(),
    )?;
    Ok(public)
}

/// Reads a secret key written by `keygen`.
pub fn read_secret_key(path: &Path) -> anyhow::Result<SigningKey> {
    let bytes = read_regular(path, 4096)
        .with_context(|| format!("cannot read the release key {}", path.display()))?;
    SigningKey::from_pkcs8(&bytes).with_context(|| format!("{}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signing_key() -> SigningKey {
        SigningKey::from_pkcs8(&SigningKey::generate().unwrap()).unwrap()
    }

    #[test]
    fn published_files_are_listed_newest_first_and_found_by_system() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::new(dir.path());
        let key = signing_key();
        let now = chrono::Utc::now();
        for version in ["0.9.0", "0.10.0", "0.2.0"] {
            let file = dir.path().join(format!("timecard_{version}_amd64.deb"));
            std::fs::write(&file, version).unwrap();
            catalog
                .publish(&file, version, &key, &Labels::default(), now)
                .unwrap();
        }
        let versions: Vec<_> = catalog
            .list()
            .unwrap()
            .into_iter()
            .map(|p| p.release.version)
            .collect();
        assert_eq!(versions, ["0.10.0", "0.9.0", "0.2.0"]);
        let latest = catalog
            .latest("timecard", "linux", "x86_64", Kind::Deb)
            .unwrap()
            .unwrap();
        assert_eq!(latest.release.version, "0.10.0");
        assert_eq!(latest.release.verify(&key.public()), Ok(()));
        assert!(
            catalog
                .latest("timecard", "windows", "x86_64", Kind::Installer)
                .unwrap()
                .is_none()
        );
        assert!(
            catalog
                .latest("timecard-server", "linux", "x86_64", Kind::Deb)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn names_that_could_leave_the_folder_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::new(dir.path());
        for name in ["..", "../x", "a/b", ".hidden", "", "a b", "x.json"] {
            assert!(catalog.file("0.1.0", name).is_none(), "{name:?}");
        }
        assert!(catalog.file("..", "timecard").is_none());
        let file = dir.path().join("notes.txt");
        std::fs::write(&file, "hello").unwrap();
        let refused = catalog
            .publish(
                &file,
                "0.1.0",
                &signing_key(),
                &Labels::default(),
                chrono::Utc::now(),
            )
            .unwrap_err();
        assert!(refused.to_string().contains("--program"), "{refused:#}");
    }

    #[test]
    fn keygen_never_replaces_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let public = keygen(dir.path()).unwrap();
        let secret = read_secret_key(&dir.path().join(SECRET_KEY_FILE)).unwrap();
        assert_eq!(secret.public(), public);
        let text = std::fs::read_to_string(dir.path().join(PUBLIC_KEY_FILE)).unwrap();
        assert_eq!(PublicKey::parse(&text).unwrap(), public);
        assert!(keygen(dir.path()).is_err());
    }
}
