//! In-process cost of a Wayland screenshot: wlr-screencopy of every
//! output, then the JPEG and the thumbnail the tracker stores. Run by
//! `ci/wayland-bench.sh` inside a headless Sway; prints the median and
//! the budget (≤ 25 ms for a 1920×1080 output).

use std::time::{Duration, Instant};

use timecard_client::capture::ScreenSource;
use timecard_client::capture::screencopy::WlrScreencopy;

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
