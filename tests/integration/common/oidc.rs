//! The test OpenID Connect provider (`ci/oidc/provider.mjs`, npm
//! `oidc-provider`), installed from its lock into `target/oidc/` and run on
//! loopback for one test.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

/// The client the provider knows the server as.
pub const CLIENT_ID: &str = "timecard";
pub const CLIENT_SECRET: &str = "a client secret";
/// Every login signs in with this password.
pub const PASSWORD: &str = "secret";

pub struct Provider {
    child: Child,
    /// `http://127.0.0.1:PORT`, the issuer.
    pub issuer: String,
}

static INSTALL: Mutex<()> = Mutex::new(());

/// `target/oidc/` with the provider's modules (from `ci/oidc`'s lock), or
/// `None` where node or npm is missing (CI has them: a failure there).
fn installed() -> Option<PathBuf> {
    let _one = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("oidc");
    let present = |tool: &str| {
        Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !present("node") || !present("npm") {
        assert!(
            std::env::var_os("CI").is_none(),
            "the single sign-on tests need node and npm"
        );
        eprintln!("skipped: no node or npm for the test identity provider");
        return None;
    }
    let lock = std::fs::read(root.join("ci/oidc/package-lock.json")).unwrap();
    let fresh = std::fs::read(dir.join("package-lock.json")).ok().as_ref() == Some(&lock)
        && dir.join("node_modules").is_dir();
    if !fresh {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(root.join("ci/oidc/package.json"), dir.join("package.json")).unwrap();
        std::fs::write(dir.join("package-lock.json"), &lock).unwrap();
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "npm ci for the test provider: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::copy(root.join("ci/oidc/provider.mjs"), dir.join("provider.mjs")).unwrap();
    Some(dir)
}

impl Provider {
    /// Starts the provider for a server whose callback is `redirect` and
    /// whose sign-out returns to `after_logout`.
    pub fn start(redirect: &str, after_logout: &str) -> Option<Provider> {
        let dir = installed()?;
        let mut child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .env("OIDC_PORT", "0")
            .env("OIDC_CLIENT_ID", CLIENT_ID)
            .env("OIDC_CLIENT_SECRET", CLIENT_SECRET)
            .env("OIDC_REDIRECT_URIS", redirect)
            .env("OIDC_POST_LOGOUT_URIS", after_logout)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        // Whatever it prints later is read, or it dies of a broken pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let issuer = line
            .trim()
            .strip_prefix("oidc-provider listening on ")
            .unwrap_or_else(|| panic!("the provider said {line:?}"))
            .to_owned();
        Some(Provider { child, issuer })
    }

    /// What the token endpoint does from now on: `normal`,
    /// `wrong-audience`, `expired` or `wrong-nonce`.
    pub fn set_mode(&self, mode: &str) {
        let answer = ureq::post(format!("{}/test/mode", self.issuer))
            .send_form([("mode", mode)])
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        assert!(answer.contains(mode), "{answer}");
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
