//! `timecard-server` as a team runs it, through the real binary: a data
//! folder only its owner reads.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::cli::{run, text};

const PASSWORD: &str = "long enough password";

fn server_cmd(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    run(
        Command::new(env!("CARGO_BIN_EXE_timecard-server"))
            .arg("--data")
            .arg(data)
            .args(args),
        stdin,
    )
}

fn add_user(data: &Path, login: &str) {
    let out = server_cmd(
        data,
        &["user", "add", login, "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(out.status.success(), "{}", text(&out));
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// `timecard-server serve` running, its standard output and standard error
/// read line by line.
struct Serving {
    child: Child,
    lines: mpsc::Receiver<(Stream, String)>,
    /// `https://ADDRESS:PORT` from the first line.
    url: String,
    /// Every line printed so far, on either stream.
    printed: Vec<(Stream, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stream {
    Out,
    Err,
}

impl Serving {
    fn start(data: &Path, args: &[&str]) -> Serving {
        let mut child = Command::new(env!("CARGO_BIN_EXE_timecard-server"))
            .arg("--data")
            .arg(data)
            .arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start timecard-server");
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        let err = child.stderr.take().unwrap();
        forward_lines(out, Stream::Out, tx.clone());
        forward_lines(err, Stream::Err, tx);
        let mut serving = Serving {
            child,
            lines,
            url: String::new(),
            printed: Vec::new(),
        };
        let first = serving.wait_line("the address it listens on", |l| {
            l.starts_with("timecard-server listening on ")
        });
        serving.url = first["timecard-server listening on ".len()..].to_owned();
        serving
    }

    /// Waits (up to 30 s) for a line on standard output that `wanted`
    /// accepts.
    fn wait_line(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        self.wait(Stream::Out, what, wanted)
    }

    /// Waits (up to 30 s) for a line of the log (standard error).
    fn wait_log(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        self.wait(Stream::Err, what, wanted)
    }

    fn wait(&mut self, stream: Stream, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        if let Some((_, line)) = self
            .printed
            .iter()
            .find(|(s, line)| *s == stream && wanted(line))
        {
            return line.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((s, line)) => {
                    self.printed.push((s, line.clone()));
                    if s == stream && wanted(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "timecard-server did not print {what}; it printed {:?}",
                    self.printed
                ),
            }
        }
    }
}

fn forward_lines(
    pipe: impl Read + Send + 'static,
    stream: Stream,
    tx: mpsc::Sender<(Stream, String)>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send((stream, line)).is_err() {
                break;
            }
        }
    });
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// Issue 11, item 6: the data folder holds password and token hashes and
// screenshots; no other local user may read it.
#[test]
fn the_data_folder_is_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    // A new folder, made by an admin command.
    let data = dir.path().join("new");
    add_user(&data, "ann");
    assert_eq!(mode(&data), 0o700, "a new data folder");
    assert_eq!(mode(&data.join("timecard-server.sqlite")), 0o600);

    // While the server runs, SQLite's -wal and -shm files exist; they are
    // owner-only too.
    let serving = Serving::start(&data, &["--listen", "127.0.0.1:0"]);
    for name in [
        "timecard-server.sqlite",
        "timecard-server.sqlite-wal",
        "timecard-server.sqlite-shm",
    ] {
        assert_eq!(mode(&data.join(name)), 0o600, "{name} while serving");
    }
    drop(serving);

    // A folder made by an older version: 0755, database 0644.
    let old = dir.path().join("old");
    std::fs::create_dir(&old).unwrap();
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::copy(
        data.join("timecard-server.sqlite"),
        old.join("timecard-server.sqlite"),
    )
    .unwrap();
    std::fs::set_permissions(
        old.join("timecard-server.sqlite"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let mut serving = Serving::start(&old, &["--listen", "127.0.0.1:0"]);
    assert_eq!(mode(&old), 0o700, "an existing folder is tightened");
    for name in [
        "timecard-server.sqlite",
        "timecard-server.sqlite-wal",
        "timecard-server.sqlite-shm",
    ] {
        assert_eq!(mode(&old.join(name)), 0o600, "{name} of the old folder");
    }
    // It says so in the log.
    serving.wait_log("that it tightened the folder", |l| {
        l.contains("was open to other users (mode 755); it is now owner-only")
    });
}
