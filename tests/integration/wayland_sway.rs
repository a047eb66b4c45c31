//! Screenshots on Wayland through wlr-screencopy, against a real headless
//! Sway (issue 15): the picture is the fixture on screen, pixel for pixel
//! within JPEG error; two outputs compose into one picture in the layout.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::cli::{run, text};
use crate::common::sway::Sway;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/screens/desktop-1920x1080.jpg"
);

/// `timecard capture` as a client of `sway` only (no X11).
fn capture(sway: &Sway, out: &Path, source: &[&str]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_timecard"));
    command
        .args(["capture", "--quality", "100", "--out"])
        .arg(out)
        .args(source)
        .env_remove("DISPLAY")
        .envs(sway.env());
    run(&mut command, None)
}

fn decode(path: &Path) -> image::RgbImage {
    image::open(path).expect("a JPEG").to_rgb8()
}

/// Mean absolute difference per channel between `a` at `(ax, ay)` and `b`
/// at `(bx, by)`, over a `w`×`h` grid of 400 samples.
fn difference(a: &image::RgbImage, at: (u32, u32), b: &image::RgbImage, size: (u32, u32)) -> f64 {
    let mut sum = 0u64;
    let mut n = 0u64;
    for i in 0..20 {
        for j in 0..20 {
            let (x, y) = (size.0 * i / 20 + 7, size.1 * j / 20 + 5);
            let p = a.get_pixel(at.0 + x, at.1 + y).0;
            let q = b.get_pixel(x, y).0;
            for c in 0..3 {
                sum += (i64::from(p[c]) - i64::from(q[c])).unsigned_abs();
                n += 1;
            }
        }
    }
    sum as f64 / n as f64
}

#[test]
fn screencopy_is_pixel_true_and_composes_two_outputs() {
    let Some(sway) = Sway::start(
        "output HEADLESS-1 mode 1920x1080 position 0 0 bg $DIR/screen.jpg center\n",
        &[("screen.jpg", Path::new(FIXTURE))],
    ) else {
        return;
    };
    sway.msg(&["create_output"]);
    sway.msg(&[
        "output",
        "HEADLESS-2",
        "mode",
        "640x480",
        "position",
        "1920",
        "0",
        "bg",
        "#00ff00",
        "solid_color",
    ]);
    let fixture = decode(Path::new(FIXTURE));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("screen.jpg");
    // The backgrounds are drawn by swaybg after the outputs appear: wait
    // until both are on screen.
    let deadline = Instant::now() + Duration::from_secs(30);
    let picture = loop {
        let done = capture(&sway, &out, &["--source", "screencopy"]);
        assert!(done.status.success(), "{}", text(&done));
        let picture = decode(&out);
        let ready = picture.dimensions() == (2560, 1080)
            && picture.get_pixel(1920 + 320, 240).0[1] > 200
            && difference(&picture, (0, 0), &fixture, (1900, 1060)) < 8.0;
        if ready {
            break picture;
        }
        assert!(
            Instant::now() < deadline,
            "the outputs never showed their pictures: {:?}, {}",
            picture.dimensions(),
            sway.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // The first output is the fixture, within JPEG error.
    let error = difference(&picture, (0, 0), &fixture, (1900, 1060));
    assert!(error < 8.0, "mean difference {error}");
    // The second is green, right of it; below it, outside every output, black.
    let green = picture.get_pixel(1920 + 100, 100).0;
    assert!(
        green[1] > 230 && green[0] < 30 && green[2] < 30,
        "{green:?}"
    );
    let outside = picture.get_pixel(1920 + 100, 900).0;
    assert!(outside.iter().all(|c| *c < 20), "{outside:?}");
}

// With no choice given, a session with a wlroots compositor and no X11 is
// captured through screencopy.
#[test]
fn auto_chooses_screencopy_on_sway_without_x11() {
    let Some(sway) = Sway::start(
        "output HEADLESS-1 mode 800x600 bg #ff0000 solid_color\n",
        &[],
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("auto.jpg");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = capture(&sway, &out, &[]);
        assert!(done.status.success(), "{}", text(&done));
        assert!(text(&done).contains("800×600"), "{}", text(&done));
        let red = decode(&out).get_pixel(400, 300).0;
        if red[0] > 230 && red[1] < 30 {
            break;
        }
        assert!(Instant::now() < deadline, "never red: {red:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

// Neither Wayland nor X11: a clear error, not a panic.
#[test]
fn no_session_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("none.jpg");
    let mut command = Command::new(env!("CARGO_BIN_EXE_timecard"));
    command
        .args(["capture", "--quality", "80", "--out"])
        .arg(&out)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY");
    let done = run(&mut command, None);
    assert!(!done.status.success());
    assert!(text(&done).contains("no X11 session"), "{}", text(&done));
    let mut command = Command::new(env!("CARGO_BIN_EXE_timecard"));
    command
        .args([
            "capture",
            "--quality",
            "80",
            "--source",
            "screencopy",
            "--out",
        ])
        .arg(&out)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_RUNTIME_DIR", dir.path());
    let done = run(&mut command, None);
    assert!(!done.status.success());
    assert!(
        text(&done).contains("no Wayland display"),
        "{}",
        text(&done)
    );
    assert!(!text(&done).contains("panicked"), "{}", text(&done));
}

// The window runs as a native Wayland client (xdg-shell, not XWayland)
// with no X11 display; a picture of it is taken with grim and kept in
// target/wayland-screens/ to be looked at.
#[test]
fn the_window_runs_natively_on_sway() {
    let Some(sway) = Sway::start(
        "output HEADLESS-1 mode 1280x800 bg #336699 solid_color\n",
        &[],
    ) else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let mut window = Command::new(env!("CARGO_BIN_EXE_timecard"))
        .env_remove("DISPLAY")
        .envs(sway.env())
        .env("TIMECARD_DATA_DIR", data.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the window");
    let deadline = Instant::now() + Duration::from_secs(60);
    let tree = loop {
        let tree = sway.msg(&["-t", "get_tree"]);
        if tree.contains("\"name\": \"Timecard\"") {
            break tree;
        }
        if let Ok(Some(status)) = window.try_wait() {
            panic!("the window exited ({status})");
        }
        assert!(Instant::now() < deadline, "no Timecard window in {tree}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        tree.contains("\"shell\": \"xdg_shell\""),
        "not native: {tree}"
    );
    assert!(!tree.contains("\"shell\": \"xwayland\""), "{tree}");
    // The first frames take a moment under software rendering: wait until
    // the window's dark background covers the middle of the screen.
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wayland-screens");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("window.png");
    loop {
        let grim = Command::new("grim")
            .arg(&shot)
            .envs(sway.env())
            .output()
            .expect("run grim");
        assert!(
            grim.status.success(),
            "{}",
            String::from_utf8_lossy(&grim.stderr)
        );
        let picture = image::open(&shot).unwrap().to_rgb8();
        let middle = picture.get_pixel(640, 600).0;
        // Not the #336699 background: the window's own dark grey.
        if middle.iter().all(|c| *c < 60) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the window never drew: {middle:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = window.kill();
    let _ = window.wait();
}
