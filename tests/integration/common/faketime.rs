//! libfaketime: processes started on a clock other than the machine's.

use chrono::{DateTime, Utc};

pub const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// Whether libfaketime is here; where it must be (`TIMECARD_REQUIRE_FAKETIME`)
/// and is not, the test fails, else it says it is skipped.
pub fn present() -> bool {
    if std::path::Path::new(LIBFAKETIME).exists() {
        return true;
    }
    assert!(
        std::env::var_os("TIMECARD_REQUIRE_FAKETIME").is_none(),
        "libfaketime is missing (apt-get install faketime)"
    );
    eprintln!("*** SKIPPED: libfaketime is not installed (apt-get install faketime) ***");
    false
}

/// The environment that puts a process on the clock that reads `fake`
/// now: an offset from the real clock, the same for every process started
/// with it (each keeps ticking).
pub fn clock_at(fake: DateTime<Utc>) -> Vec<(String, String)> {
    let offset = (fake - Utc::now()).num_seconds();
    vec![
        ("LD_PRELOAD".into(), LIBFAKETIME.into()),
        ("FAKETIME".into(), format!("{offset:+}s")),
        // Timeouts and backoffs keep real time.
        ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
    ]
}
