//! The binaries run as a user runs them: arguments, optional standard
//! input, and the data folder from the environment.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::server::{PASSWORD, TestServer};

/// Runs `command` to the end, writing `stdin` (if any) to it first.
pub fn run(command: &mut Command, stdin: Option<&str>) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the binary");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

/// `timecard ARGS` on the data folder `data`.
pub fn timecard(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    run(
        Command::new(env!("CARGO_BIN_EXE_timecard"))
            .args(args)
            .env("TIMECARD_DATA_DIR", data),
        stdin,
    )
}

/// `timecard-server --data DATA ARGS`, writing `stdin` (if any) to it.
pub fn timecard_server(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    run(
        Command::new(super::server_exe())
            .arg("--data")
            .arg(data)
            .args(args)
            .envs(super::store::server_env(data)),
        stdin,
    )
}

/// What a command printed, standard output then standard error.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `timecard login` as `ann` on `server`, trusting its certificate (kept in
/// the data folder as `server.pem`).
pub fn login(data: &Path, server: &TestServer) {
    std::fs::create_dir_all(data).unwrap();
    let ca = data.join("server.pem");
    std::fs::write(&ca, &server.server.cert_pem).unwrap();
    let out = sign_in(data, &server.url(), &ca, "ann", PASSWORD, &[]);
    assert!(out.status.success(), "{}", text(&out));
}

/// `timecard login --server URL --ca CA --user USER --password-stdin` on
/// `data`; `env` sets (`Some`) or removes (`None`) environment variables.
pub fn sign_in(
    data: &Path,
    url: &str,
    ca: &Path,
    user: &str,
    password: &str,
    env: &[(&str, Option<&str>)],
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_timecard"));
    command
        .args(["login", "--server", url, "--ca"])
        .arg(ca)
        .args(["--user", user, "--password-stdin"])
        .env("TIMECARD_DATA_DIR", data);
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    run(&mut command, Some(password))
}

/// `timecard track ARGS` running in the background on `data`, started: its
/// first line ("Tracking …") is read. Without `display` it runs headless.
pub struct Tracking {
    child: std::process::Child,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    pub first: String,
}

impl Tracking {
    pub fn start(data: &Path, args: &[&str], display: Option<&str>) -> Tracking {
        use std::io::BufRead;
        let mut command = Command::new(env!("CARGO_BIN_EXE_timecard"));
        command
            .arg("track")
            .args(args)
            .env("TIMECARD_DATA_DIR", data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match display {
            Some(display) => command.env("DISPLAY", display),
            None => command.env_remove("DISPLAY"),
        };
        let mut child = command.spawn().expect("start timecard track");
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        assert!(
            first.starts_with("Tracking"),
            "track did not start: {first}"
        );
        Tracking {
            child,
            stdout,
            first,
        }
    }

    /// Waits for the end; returns how it ended and everything it said
    /// (standard output, then standard error).
    pub fn finish(mut self) -> (std::process::ExitStatus, String) {
        use std::io::Read;
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        let out = self.child.wait_with_output().unwrap();
        let said = format!(
            "{}{rest}{}",
            self.first,
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status, said)
    }
}

/// The seconds the server's Work Diary holds for today (`timecard diary --json`).
pub fn diary_total_secs(data: &Path) -> i64 {
    let out = timecard(data, &["diary", "--json"], None);
    let diary: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("diary --json ({e}): {}", text(&out)));
    diary_total(&diary)
}

/// The day's tracked seconds in the output of `timecard diary --json`.
pub fn diary_total(diary: &serde_json::Value) -> i64 {
    diary["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["secs"].as_i64().unwrap())
        .sum()
}

/// Runs `command` with its standard output a pipe whose reading end is
/// already closed (`timecard status | head -0`): every write to it fails.
pub fn run_with_closed_stdout(command: &mut Command) -> Output {
    let (reader, writer) = std::io::pipe().expect("make a pipe");
    drop(reader);
    command
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the binary")
        .wait_with_output()
        .unwrap()
}

/// Asserts a command run by `run_with_closed_stdout` ended by itself, without
/// a panic.
pub fn assert_ends_quietly_on_closed_stdout(what: &str, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && out.status.code() != Some(101),
        "`{what}` with standard output closed: {:?}\n{stderr}",
        out.status
    );
}
