//! Screenshots through the desktop portal (issue 15), against a fake
//! `org.freedesktop.portal.Screenshot` on a private session bus: the
//! picture it hands over is what `timecard capture --source portal` keeps,
//! its file is removed, a refusal is said in words, and no portal at all
//! is a clear error. The real portal stack on a headless Sway is tested in
//! `wayland_sway::the_real_portal_captures_the_screen`; a fake one can also
//! answer "refused", which the real one would only after a user said no.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

use crate::common::cli::{run, text};
use crate::common::dbus::session_bus_without_services;
use crate::common::xvfb::tools_present;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/screens/desktop-1920x1080.jpg"
);

/// What the fake portal answers: the response code and, for 0, the file.
#[derive(Clone)]
struct Answer {
    code: u32,
    file: Option<PathBuf>,
}

struct FakeScreenshot {
    answer: Arc<Mutex<Answer>>,
    /// The options of each request, for the test to look at.
    asked: Arc<Mutex<Vec<HashMap<String, String>>>>,
}

#[zbus::interface(name = "org.freedesktop.portal.Screenshot")]
impl FakeScreenshot {
    async fn screenshot(
        &self,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(connection)] connection: &zbus::Connection,
        _parent_window: String,
        options: HashMap<String, OwnedValue>,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        let seen: HashMap<String, String> = options
            .iter()
            .map(|(k, v)| (k.clone(), format!("{v:?}")))
            .collect();
        self.asked.lock().unwrap().push(seen);
        let token = options
            .get("handle_token")
            .and_then(|v| String::try_from(v.try_clone().ok()?).ok())
            .unwrap_or_default();
        let sender = header
            .sender()
            .map(|s| s.trim_start_matches(':').replace('.', "_"))
            .unwrap_or_default();
        let path = format!("/org/freedesktop/portal/desktop/request/{sender}/{token}");
        let answer = self.answer.lock().unwrap().clone();
        let mut results: HashMap<&str, Value<'_>> = HashMap::new();
        let uri;
        if let Some(file) = &answer.file {
            uri = format!("file://{}", file.display().to_string().replace(' ', "%20"));
            results.insert("uri", Value::from(uri.as_str()));
        }
        connection
            .emit_signal(
                None::<&str>,
                path.as_str(),
                "org.freedesktop.portal.Request",
                "Response",
                &(answer.code, results),
            )
            .await
            .map_err(|e| zbus::fdo::Error::Failed(e.to_string()))?;
        OwnedObjectPath::try_from(path).map_err(|e| zbus::fdo::Error::Failed(e.to_string()))
    }

    #[zbus(property)]
    fn version(&self) -> u32 {
        1
    }
}

fn capture(bus: &str, out: &Path) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_timecard"));
    command
        .args(["capture", "--source", "portal", "--quality", "100", "--out"])
        .arg(out)
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY");
    run(&mut command, None)
}

#[test]
fn the_portal_picture_is_kept_and_a_refusal_is_said() {
    if !tools_present(&["dbus-run-session", "dbus-daemon"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut bus, address) = session_bus_without_services(dir.path());
    // No portal on the bus yet: a clear error.
    let out = dir.path().join("shot.jpg");
    let none = capture(&address, &out);
    assert!(!none.status.success());
    assert!(text(&none).contains("no desktop portal"), "{}", text(&none));

    // The portal writes a PNG where it likes and answers with its URI.
    let fixture = image::open(FIXTURE).unwrap().to_rgb8();
    let written = dir.path().join("Screenshot from today.png");
    fixture.save(&written).unwrap();
    let answer = Arc::new(Mutex::new(Answer {
        code: 0,
        file: Some(written.clone()),
    }));
    let asked = Arc::new(Mutex::new(Vec::new()));
    let _portal = zbus::blocking::connection::Builder::address(address.as_str())
        .unwrap()
        .name("org.freedesktop.portal.Desktop")
        .unwrap()
        .serve_at(
            "/org/freedesktop/portal/desktop",
            FakeScreenshot {
                answer: answer.clone(),
                asked: asked.clone(),
            },
        )
        .unwrap()
        .build()
        .expect("serve the fake portal");
    let done = capture(&address, &out);
    assert!(done.status.success(), "{}", text(&done));
    assert!(text(&done).contains("1920×1080"), "{}", text(&done));
    let kept = image::open(&out).unwrap().to_rgb8();
    let mut worst = 0i32;
    for (x, y) in [(10, 10), (960, 540), (1900, 1060), (300, 700), (1500, 200)] {
        let (a, b) = (kept.get_pixel(x, y).0, fixture.get_pixel(x, y).0);
        for c in 0..3 {
            worst = worst.max((i32::from(a[c]) - i32::from(b[c])).abs());
        }
    }
    assert!(worst <= 12, "pixels differ by up to {worst}");
    assert!(!written.exists(), "the portal's file is removed once read");
    // Not interactive, and with the token the answer comes under.
    let options = asked.lock().unwrap()[0].clone();
    assert!(options["interactive"].contains("false"), "{options:?}");
    assert!(options.contains_key("handle_token"), "{options:?}");

    // The desktop refuses (permission denied): said in words.
    *answer.lock().unwrap() = Answer {
        code: 2,
        file: None,
    };
    let refused = capture(&address, &out);
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("refused the screenshot")
            && text(&refused).contains("privacy settings"),
        "{}",
        text(&refused)
    );
    drop(bus.stdin.take());
    let _ = bus.wait();
}

/// A fake idle counter: the time since `last_input`, in the unit of the
/// interface it serves.
struct FakeIdle {
    last_input: Arc<Mutex<std::time::Instant>>,
}

#[zbus::interface(name = "org.gnome.Mutter.IdleMonitor")]
impl FakeIdle {
    fn get_idletime(&self) -> u64 {
        self.last_input.lock().unwrap().elapsed().as_millis() as u64
    }
}

struct FakeScreenSaver {
    last_input: Arc<Mutex<std::time::Instant>>,
}

#[zbus::interface(name = "org.freedesktop.ScreenSaver")]
impl FakeScreenSaver {
    fn get_session_idle_time(&self) -> u32 {
        self.last_input.lock().unwrap().elapsed().as_secs() as u32
    }
}

// Activity from the session bus's idle counter (GNOME's IdleMonitor, the
// ScreenSaver service): the last input to the second, unchanged while
// there is none, new when the counter resets.
#[test]
fn idle_counters_on_the_session_bus_give_the_last_input() {
    use timecard_client::activity::ActivitySource;
    use timecard_client::activity::dbus_idle::{DbusIdle, IdleService};
    if !tools_present(&["dbus-run-session", "dbus-daemon"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (mut bus, address) = session_bus_without_services(dir.path());
    let last_input = Arc::new(Mutex::new(
        std::time::Instant::now() - std::time::Duration::from_secs(30),
    ));
    let _services = zbus::blocking::connection::Builder::address(address.as_str())
        .unwrap()
        .name("org.gnome.Mutter.IdleMonitor")
        .unwrap()
        .name("org.freedesktop.ScreenSaver")
        .unwrap()
        .serve_at(
            "/org/gnome/Mutter/IdleMonitor/Core",
            FakeIdle {
                last_input: last_input.clone(),
            },
        )
        .unwrap()
        .serve_at(
            "/org/freedesktop/ScreenSaver",
            FakeScreenSaver {
                last_input: last_input.clone(),
            },
        )
        .unwrap()
        .build()
        .expect("serve the fake idle counters");
    for service in [IdleService::Mutter, IdleService::ScreenSaver] {
        *last_input.lock().unwrap() =
            std::time::Instant::now() - std::time::Duration::from_secs(30);
        let connection = zbus::blocking::connection::Builder::address(address.as_str())
            .unwrap()
            .build()
            .unwrap();
        let mut idle = DbusIdle::with_connection(service, connection);
        let now = chrono::Utc::now();
        let first = idle.last_input(now).expect("an answer");
        let thirty = now - chrono::Duration::seconds(30);
        assert!(
            (first - thirty).num_seconds().abs() <= 1,
            "{service:?}: {first} for an input at {thirty}"
        );
        // No input: the same instant, however the counter is read.
        std::thread::sleep(std::time::Duration::from_millis(1200));
        assert_eq!(
            idle.last_input(chrono::Utc::now()),
            Some(first),
            "{service:?}"
        );
        // Input: the counter starts again, and so does the instant.
        *last_input.lock().unwrap() = std::time::Instant::now();
        let typed = chrono::Utc::now();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let after = idle.last_input(chrono::Utc::now()).unwrap();
        assert!(
            (after - typed).num_seconds().abs() <= 1 && after > first,
            "{service:?}: {after} for an input at {typed}"
        );
    }
    drop(bus.stdin.take());
    let _ = bus.wait();
}
