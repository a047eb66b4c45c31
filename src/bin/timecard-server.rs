//! `timecard-server`: the self-hostable sync server.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "timecard-server: the sync server is not built yet in this version; \
         `timecard track` caches time locally until it is."
    );
    ExitCode::from(2)
}
