//! In-process cost of a Wayland screenshot: wlr-screencopy of every
//! output, then the JPEG and the thumbnail the tracker stores. Run by
//! `ci/wayland-bench.sh` inside a headless Sway; prints the median and
//! the budget (≤ 25 ms for a 1920×1080 output).
// Reports go to the terminal: this is a harness, not a command.
#![allow(clippy::print_stdout, clippy::print_stderr)]
// Measures a Linux source; elsewhere it only says so.
#![cfg_attr(not(target_os = "linux"), allow(unused_imports))]

use std::time::{Duration, Instant};

use timecard_client::capture::ScreenSource;
#[cfg(target_os = "linux")]
use timecard_client::capture::screencopy::WlrScreencopy;

#[cfg(not(target_os = "linux"))]
fn main() -> std::process::ExitCode {
    eprintln!("screencopy_bench: wlr-screencopy is a Linux (wlroots) protocol");
    std::process::ExitCode::FAILURE
}

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    let mut source = WlrScreencopy::new(70, 1920);
    // Connect, and one capture to warm up.
    if let Err(e) = source.capture() {
        eprintln!("screencopy_bench: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let mut times: Vec<Duration> = (0..30)
        .map(|_| {
            let started = Instant::now();
            let captured = source.capture().expect("a capture").expect("a picture");
            assert!(!captured.jpeg.is_empty() && !captured.thumbnail.is_empty());
            started.elapsed()
        })
        .collect();
    times.sort();
    let median = times[times.len() / 2];
    let frame = source.grab().expect("a frame");
    println!(
        "screencopy + JPEG + thumbnail of {}×{}, in process: median {:.1} ms over {} (budget ≤ 25 ms)",
        frame.width,
        frame.height,
        median.as_secs_f64() * 1000.0,
        times.len()
    );
    if median <= Duration::from_millis(25) {
        std::process::ExitCode::SUCCESS
    } else {
        println!("over budget");
        std::process::ExitCode::FAILURE
    }
}
