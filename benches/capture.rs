//! Screenshot budget (issue: screens and activity): in-process capture of a
//! 1920×1080 screen with realistic content, JPEG and thumbnail — ≤ 25 ms
//! median. Starts its own Xvfb; without one it says so and measures nothing.
// Reports go to the terminal: this is a harness, not a command.
#![allow(clippy::print_stdout, clippy::print_stderr)]
// Measures a Linux source; elsewhere it only says so.
#![cfg_attr(not(target_os = "linux"), allow(unused_imports))]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use criterion::{Criterion, criterion_group, criterion_main};
use timecard_client::capture::ScreenSource;
#[cfg(target_os = "linux")]
use timecard_client::capture::x11::X11Screen;

/// X11 is Linux-only; the Windows build's capture is measured under Wine
/// by hand (README, Windows).
#[cfg(not(target_os = "linux"))]
fn capture(_c: &mut Criterion) {}

#[cfg(target_os = "linux")]
fn capture(c: &mut Criterion) {
    let Ok(mut xvfb) = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1920x1080x24",
            "-nolisten",
            "tcp",
            // Keep the painted background when `display` disconnects.
            "-noreset",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
    else {
        eprintln!("*** Xvfb is not installed: the capture benchmark did not run ***");
        return;
    };
    let mut line = String::new();
    BufReader::new(xvfb.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let display = format!(":{}", line.trim());
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/screens/desktop-1920x1080.jpg"
    );
    // `display -window root` paints the root window and exits non-zero.
    let _ = Command::new("display")
        .args(["-display", &display, "-window", "root", fixture])
        .status();

    let mut screen = X11Screen::new(Some(display.clone()), 75, 1920);
    assert!(
        screen.capture().unwrap().is_some(),
        "the screen must not be black"
    );
    let shm = screen.uses_shared_memory();
    let mut group = c.benchmark_group("capture");
    group.sample_size(30);
    group.bench_function(
        format!("grab_1920x1080{}", if shm { "_shm" } else { "" }),
        |b| b.iter(|| screen.grab().unwrap()),
    );
    let frame = screen.grab().unwrap();
    group.bench_function("encode_jpeg_q75_and_thumbnail", |b| {
        b.iter(|| frame.encode(75, 1920).unwrap())
    });
    group.bench_function("capture_encode_thumbnail_1920x1080", |b| {
        b.iter(|| screen.capture().unwrap().unwrap())
    });
    group.finish();
    let _ = xvfb.kill();
    let _ = xvfb.wait();
}

criterion_group!(benches, capture);
criterion_main!(benches);
