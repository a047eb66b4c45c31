//! `timecard`: the desktop app and its command line.

use std::process::ExitCode;

fn main() -> ExitCode {
    timecard_core::process::mark_process_start();
    timecard::cli::main()
}
