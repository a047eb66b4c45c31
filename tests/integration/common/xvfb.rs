//! A private X server for tests that need a display, and the check that
//! skips them loudly where the tools are missing (a failure under
//! `TIMECARD_REQUIRE_DISPLAY=1`, as in CI).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `Xvfb -displayfd`; stopped on drop.
pub struct Xvfb {
    child: Child,
    pub display: String,
}

impl Xvfb {
    /// Starts one screen of `size` (e.g. `1280x800x24`).
    pub fn start(size: &str) -> Xvfb {
        let mut child = Command::new("Xvfb")
            // -noreset: keep what one client set up (monitors, a background)
            // when it disconnects.
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                size,
                "-nolisten",
                "tcp",
                "-noreset",
            ])
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

/// A child process killed (and reaped) on drop.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The colour of one screen pixel, via ImageMagick's `import`.
pub fn pixel(display: &str, x: u32, y: u32) -> Option<(u8, u8, u8)> {
    column(display, x, y, 1).first().copied()
}

pub fn screenshot(display: &str, path: &Path) {
    let status = Command::new("import")
        .args([
            "-display",
            display,
            "-window",
            "root",
            "-crop",
            "760x620+0+0",
        ])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success(), "import failed");
}

pub fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

pub fn xdotool(display: &str, args: &[&str]) {
    let status = Command::new("xdotool")
        .args(args)
        .env("DISPLAY", display)
        .status()
        .unwrap();
    assert!(status.success(), "xdotool {args:?} failed");
}

/// The colours of a vertical line of `height` screen pixels from (x, y).
pub fn column(display: &str, x: u32, y: u32, height: u32) -> Vec<(u8, u8, u8)> {
    area(display, x, y, 1, height)
}

/// The colours of a `width`×`height` screen area from (x, y), row by row.
pub fn area(display: &str, x: u32, y: u32, width: u32, height: u32) -> Vec<(u8, u8, u8)> {
    let Ok(out) = Command::new("import")
        .args([
            "-display",
            display,
            "-window",
            "root",
            "-crop",
            &format!("{width}x{height}+{x}+{y}"),
            "-depth",
            "8",
            "rgb:-",
        ])
        .output()
    else {
        return Vec::new();
    };
    out.stdout
        .chunks_exact(3)
        .map(|p| (p[0], p[1], p[2]))
        .collect()
}

/// The first run of at least `min_len` pixels matching `wanted` in
/// `pixels`, as offsets `(first, past_last)`.
pub fn find_run(
    pixels: &[(u8, u8, u8)],
    min_len: usize,
    wanted: impl Fn((u8, u8, u8)) -> bool,
) -> Option<(u32, u32)> {
    let mut start = None;
    for (i, p) in pixels.iter().enumerate() {
        match (wanted(*p), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) if i - s >= min_len => return Some((s as u32, i as u32)),
            (false, Some(_)) => start = None,
            _ => {}
        }
    }
    start
        .filter(|s| pixels.len() - s >= min_len)
        .map(|s| (s as u32, pixels.len() as u32))
}
