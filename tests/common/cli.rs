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
    let out = timecard(
        data,
        &[
            "login",
            "--server",
            &server.url(),
            "--ca",
            ca.to_str().unwrap(),
            "--user",
            "ann",
            "--password-stdin",
        ],
        Some(PASSWORD),
    );
    assert!(out.status.success(), "{}", text(&out));
}
