//! A private X server for tests that need a display, and the check that
//! skips them loudly where the tools are missing (a failure under
//! `TIMECARD_REQUIRE_DISPLAY=1`, as in CI).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running `Xvfb -displayfd`; stopped on drop.
pub struct Xvfb {
    child: Child,
    pub display: String,
}

impl Xvfb {
    /// Starts one screen of `size` (e.g. `1280x800x24`).
    pub fn start(size: &str) -> Xvfb {
        let mut child = Command::new("Xvfb")
            .args(["-displayfd", "1", "-screen", "0", size, "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Xvfb {
            child,
            display: format!(":{}", line.trim()),
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether all `tools` are installed; says loudly what is skipped if not.
pub fn tools_present(tools: &[&str]) -> bool {
    let missing: Vec<_> = tools
        .iter()
        .filter(|t| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("TIMECARD_REQUIRE_DISPLAY").is_none(),
        "TIMECARD_REQUIRE_DISPLAY is set but {missing:?} are not installed"
    );
    eprintln!("\n*** SKIPPED: {missing:?} not installed ***\n");
    false
}
