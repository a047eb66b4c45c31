//! `timecard-server serve` as its own process, for tests of the real binary.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `timecard-server serve` running, its standard output and standard error
/// read line by line.
pub struct Serving {
    pub child: Child,
    lines: mpsc::Receiver<(Stream, String)>,
    /// `https://ADDRESS:PORT` from the first line.
    pub url: String,
    /// Every line printed so far, on either stream.
    pub printed: Vec<(Stream, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

impl Serving {
    pub fn start(data: &Path, args: &[&str]) -> Serving {
        Serving::start_with_env(data, args, super::store::server_env(data))
    }

    /// As [`Serving::start`], with `env` as the storage's environment.
    pub fn start_with_env(data: &Path, args: &[&str], env: Vec<(String, String)>) -> Serving {
        let mut command = Command::new(super::server_exe());
        command
            .arg("--data")
            .arg(data)
            .arg("serve")
            .args(args)
            .envs(env);
        Serving::spawn(command)
    }

    /// `command`, a `timecard-server serve` however it is started (in a
    /// chroot, say), read as [`Serving::start`] reads it.
    pub fn spawn(mut command: Command) -> Serving {
        let mut child = command
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
    pub fn wait_line(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        self.wait(Stream::Out, what, wanted)
    }

    /// Waits (up to 30 s) for a line of the log (standard error).
    pub fn wait_log(&mut self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        self.wait(Stream::Err, what, wanted)
    }

    pub fn wait(&mut self, stream: Stream, what: &str, wanted: impl Fn(&str) -> bool) -> String {
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

    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
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

/// `timecard-server serve` on `data` (made here) on a 10-second grid, with
/// `ann` (password "a long password") and her hourly contract `work`.
pub fn ann_with_work(data: &Path) -> Serving {
    use super::cli::{text, timecard_server};
    let out = timecard_server(
        data,
        &["user", "add", "ann", "--password-stdin"],
        Some("a long password\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = timecard_server(
        data,
        &[
            "contract", "add", "--id", "work", "--user", "ann", "--title", "Work", "--kind",
            "hourly",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    Serving::start(data, &["--listen", "127.0.0.1:0", "--segment-secs", "10"])
}

/// An app data folder at `dir/app` with notifications off.
pub fn quiet_app(dir: &Path) -> std::path::PathBuf {
    let app = dir.join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("settings.json"), r#"{"notifications": false}"#).unwrap();
    app
}
