//! `timecard-server`: the self-hostable sync server.

use std::process::ExitCode;

fn main() -> ExitCode {
    // The allocator settings keep a storm of sign-ins or uploads from
    // leaving the server's memory high afterwards.
    timecard_core::process::mark_process_start();
    timecard_server::cli::main()
}
