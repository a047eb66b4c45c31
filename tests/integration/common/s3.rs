//! A real S3-compatible object store for tests: `s3s-fs`, the s3s
//! project's S3 server over a local folder (installed by
//! `ci/install-s3-server.sh`), on 127.0.0.1. A missing binary skips the
//! test loudly; under `TIMECARD_REQUIRE_S3=1` (CI) that is a failure.
//!
//! s3s-fs keeps a bucket as a folder of its root and an object as a file
//! in it (its metadata in hidden files at the root); an object's
//! LastModified is its file's modification time ([`S3Server::path`]).
#![allow(dead_code)]

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server's program name, and the version the CI script installs
/// (0.15 and later need Rust 1.96).
const PROGRAM: &str = "s3s-fs";
pub const VERSION: &str = "0.14.1";

/// How long the server may take to listen.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// An S3-compatible server (s3s-fs) on 127.0.0.1, its files in a temp
/// folder; stopped on drop.
pub struct S3Server {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    /// Exists (empty) once started.
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
    port: u16,
    exe: PathBuf,
    /// `None` while stopped.
    child: Option<Child>,
    /// `root/` (the buckets) and `s3s-fs.log` (both streams, every run).
    dir: tempfile::TempDir,
}

impl S3Server {
    /// Starts a server with one empty bucket. `None` when the server binary
    /// is not installed (the caller decides whether that is a failure; under
    /// `TIMECARD_REQUIRE_S3` it is a panic).
    pub fn start() -> Option<S3Server> {
        let exe = find_exe()?;
        let dir = tempfile::Builder::new()
            .prefix("timecard-s3-")
            .tempdir()
            .expect("create a folder for the S3 server");
        let bucket = "timecard-test".to_owned();
        // A bucket is a folder of the root.
        std::fs::create_dir_all(dir.path().join("root").join(&bucket))
            .expect("create the bucket's folder");
        let mut server = S3Server {
            endpoint: String::new(),
            bucket,
            access_key: "timecard-test".into(),
            secret_key: "timecard-test-secret".into(),
            region: "us-east-1".into(),
            port: 0,
            exe,
            child: None,
            dir,
        };
        // Port 0: the server binds a free port and says which, so no other
        // process can take it between the choice and the bind.
        let (child, port) = server.launch(0).unwrap_or_else(|why| panic!("{why}"));
        server.child = Some(child);
        server.port = port;
        server.endpoint = format!("http://127.0.0.1:{port}");
        Some(server)
    }

    /// The environment `timecard-server serve --blobs s3://BUCKET/PREFIX`
    /// reads (`object_store`'s `AmazonS3Builder::from_env`).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", &self.access_key),
            ("AWS_SECRET_ACCESS_KEY", &self.secret_key),
            ("AWS_REGION", &self.region),
            ("AWS_ALLOW_HTTP", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// `s3://BUCKET/PREFIX`, for `--blobs`.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{}", self.bucket, prefix.trim_start_matches('/'))
    }

    /// The file of the bucket's object `key` (`PREFIX/...` included). Its
    /// modification time is the object's LastModified: set it to age an
    /// object.
    pub fn path(&self, key: &str) -> PathBuf {
        self.dir.path().join("root").join(&self.bucket).join(key)
    }

    /// Kills the server (SIGKILL) and starts it again on the same port and
    /// folder, for fault tests.
    pub fn restart(&mut self) {
        self.kill();
        self.start_again();
    }

    /// Kills the server (SIGKILL); it stays down until
    /// [`S3Server::start_again`].
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the killed server again on the same port and folder and waits
    /// until it listens.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "{PROGRAM} is already running");
        let (child, _) = self.launch(self.port).unwrap_or_else(|why| panic!("{why}"));
        self.child = Some(child);
    }

    /// The end of the server's log (all its runs).
    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let mut start = text.len().saturating_sub(4000);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text[start..].to_owned()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("s3s-fs.log")
    }

    /// Runs the server on `port` (0: any free one) and waits (up to
    /// [`READY_WITHIN`]) until it says it listens; returns it and its port.
    fn launch(&self, port: u16) -> Result<(Child, u16), String> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open the S3 server's log");
        let logged_before = log.metadata().map(|m| m.len()).unwrap_or(0) as usize;
        let mut child = Command::new(&self.exe)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", &self.access_key])
            .args(["--secret-key", &self.secret_key])
            .arg(self.dir.path().join("root"))
            // Errors, and the line saying where it listens (once it does).
            .env("RUST_LOG", "error,s3s_fs=info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("share the S3 server's log"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.exe.display()));
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            if let Some(port) = listening_port(&self.log_since(logged_before)) {
                return Ok((child, port));
            }
            let failed = if let Ok(Some(status)) = child.try_wait() {
                format!("exited ({status})")
            } else if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                format!("did not listen within {READY_WITHIN:?}")
            } else {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            };
            return Err(format!(
                "{} --port {port} {failed}\n--- its output:\n{}",
                self.exe.display(),
                self.log_since(logged_before)
            ));
        }
    }

    /// What the log gained after its first `offset` bytes.
    fn log_since(&self, offset: usize) -> String {
        let log = std::fs::read(self.log_path()).unwrap_or_default();
        String::from_utf8_lossy(log.get(offset..).unwrap_or_default()).into_owned()
    }
}

/// The port in s3s-fs's `server is running at http://127.0.0.1:PORT`.
fn listening_port(log: &str) -> Option<u16> {
    let (_, rest) = log.split_once("server is running at http://")?;
    let address: SocketAddr = rest.split_whitespace().next()?.parse().ok()?;
    Some(address.port())
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The server binary: `$TIMECARD_S3_SERVER`, else where
/// `ci/install-s3-server.sh` puts it (`$CARGO_TARGET_DIR/tools/bin`, then
/// `target/tools/bin`), else `s3s-fs` on the PATH. `None` (or a panic under
/// `TIMECARD_REQUIRE_S3`) when missing.
fn find_exe() -> Option<PathBuf> {
    if let Some(exe) = std::env::var_os("TIMECARD_S3_SERVER") {
        let exe = PathBuf::from(exe);
        assert!(
            exe.is_file(),
            "TIMECARD_S3_SERVER={} is not a file",
            exe.display()
        );
        return Some(exe);
    }
    // Cargo runs tests in the package's folder, which a relative
    // CARGO_TARGET_DIR is relative to.
    let package = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut folders = Vec::new();
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        folders.push(package.join(target).join("tools/bin"));
    }
    folders.push(package.join("target/tools/bin"));
    if let Some(path) = std::env::var_os("PATH") {
        folders.extend(std::env::split_paths(&path));
    }
    let found = folders
        .iter()
        .map(|folder| folder.join(PROGRAM))
        .find(|exe| exe.is_file());
    if found.is_none() {
        let why = format!(
            "{PROGRAM} (an S3-compatible server) is not installed: run \
             ci/install-s3-server.sh (cargo install {PROGRAM} --version {VERSION} \
             --features binary --locked --root target/tools), or set \
             TIMECARD_S3_SERVER to the binary"
        );
        assert!(
            std::env::var_os("TIMECARD_REQUIRE_S3").is_none(),
            "TIMECARD_REQUIRE_S3 is set but {why}"
        );
        eprintln!("\n*** SKIPPED: {why} ***\n");
    }
    found
}
