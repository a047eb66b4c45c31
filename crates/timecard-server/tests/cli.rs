//! The `timecard-server` binary starts and answers on its own. (The app's
//! integration tests drive the rest of it; this test also makes `cargo test`
//! build the binary they use.)
// Reports go to the terminal: this is a harness, not a command.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::Command;

#[test]
fn help_lists_the_commands() {
    let out = Command::new(env!("CARGO_BIN_EXE_timecard-server"))
        .arg("--help")
        .output()
        .expect("run timecard-server");
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout);
    for command in ["serve", "user", "contract"] {
        assert!(help.contains(command), "no {command} in:\n{help}");
    }
}
