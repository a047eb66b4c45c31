//! `timecard`: the desktop app and its command line.

use std::process::ExitCode;

fn main() -> ExitCode {
    timecard::cli::main()
}
