//! `timecard-server`: the self-hostable sync server.

use std::process::ExitCode;

fn main() -> ExitCode {
    timecard::server::admin::main()
}
