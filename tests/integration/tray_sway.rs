//! The tray icon (D8) on a real tray host: a headless Sway with waybar's
//! `tray` module (waybar is both the StatusNotifierWatcher and the host),
//! on a private session bus. The real `timecard` window (built-in local
//! server, a temporary data folder) registers its item; the test reads the
//! item's properties and drives its menu through com.canonical.dbusmenu,
//! as a panel does when the user clicks, and takes pictures of the bar.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zbus::blocking::Connection;
use zbus::zvariant::{OwnedValue, Value};

use crate::common::cli::timecard;
use crate::common::dbus::session_bus;
use crate::common::sway::Sway;

const WATCHER: &str = "org.kde.StatusNotifierWatcher";

/// StatusNotifierItem's `ToolTip`: icon name, icon pixmaps, title, text.
type ToolTip = (String, Vec<(i32, i32, Vec<u8>)>, String, String);
/// A dbusmenu layout node: id, properties, children.
type Layout = (i32, HashMap<String, OwnedValue>, Vec<OwnedValue>);

/// A child process killed (and reaped) on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sway() -> Option<Sway> {
    if !crate::common::xvfb::tools_present(&["waybar", "grim"]) {
        return None;
    }
    Sway::start(
        "output HEADLESS-1 mode 1280x800 bg #336699 solid_color\n",
        &[],
    )
}

/// waybar with only the tray module, on `sway` and the bus at `address`.
fn waybar(sway: &Sway, address: &str, dir: &Path) -> Killed {
    let config = dir.join("waybar.json");
    std::fs::write(
        &config,
        r#"{"layer": "top", "position": "top", "height": 32,
            "modules-right": ["tray"], "tray": {"icon-size": 24, "spacing": 8}}"#,
    )
    .unwrap();
    let style = dir.join("waybar.css");
    std::fs::write(
        &style,
        "* { font-size: 12px; min-height: 0; }\nwindow#waybar { background: #f0f0f0; }\n",
    )
    .unwrap();
    Killed(
        Command::new("waybar")
            .arg("-c")
            .arg(&config)
            .arg("-s")
            .arg(&style)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(sway.env())
            .env("DBUS_SESSION_BUS_ADDRESS", address)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::log(dir, "waybar.log"))
            .spawn()
            .expect("start waybar"),
    )
}

struct File;

impl File {
    fn log(dir: &Path, name: &str) -> Stdio {
        std::fs::File::create(dir.join(name))
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null())
    }
}

/// The window, on `sway` and the bus at `address`, its log in `dir`.
fn window(sway: &Sway, address: &str, data: &Path, dir: &Path) -> Killed {
    Killed(
        Command::new(env!("CARGO_BIN_EXE_timecard"))
            .env_remove("DISPLAY")
            .envs(sway.env())
            .env("DBUS_SESSION_BUS_ADDRESS", address)
            .env("TIMECARD_DATA_DIR", data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::log(dir, "timecard.stderr"))
            .spawn()
            .expect("start the window"),
    )
}

fn connect(address: &str) -> Connection {
    zbus::blocking::connection::Builder::address(address)
        .unwrap()
        .build()
        .expect("connect to the test's bus")
}

/// Polls `probe` until it gives a value, at most `secs`; says `what` and
/// the logs in `dir` when it never does.
fn until<T>(secs: u64, what: &str, dir: &Path, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what} within {secs} s\n--- timecard.log:\n{}\n--- waybar.log:\n{}",
            std::fs::read_to_string(dir.join("data/logs/timecard.log")).unwrap_or_default(),
            std::fs::read_to_string(dir.join("waybar.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn property<T>(bus: &Connection, dest: &str, path: &str, interface: &str, name: &str) -> Option<T>
where
    T: TryFrom<OwnedValue>,
    T::Error: Into<zbus::Error>,
{
    let proxy = zbus::blocking::proxy::Builder::<zbus::blocking::Proxy>::new(bus)
        .destination(dest.to_owned())
        .ok()?
        .path(path.to_owned())
        .ok()?
        .interface(interface.to_owned())
        .ok()?
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .ok()?;
    proxy.get_property::<T>(name).ok()
}

/// The bus names of the items waybar's watcher has registered.
fn registered(bus: &Connection) -> Vec<String> {
    property::<Vec<String>>(
        bus,
        WATCHER,
        "/StatusNotifierWatcher",
        WATCHER,
        "RegisteredStatusNotifierItems",
    )
    .unwrap_or_default()
    .into_iter()
    // Some watchers keep "name/path", some the name alone.
    .map(|i| i.split('/').next().unwrap_or_default().to_owned())
    .collect()
}

/// The name of Timecard's item, once the watcher lists it.
fn timecard_item(bus: &Connection, window: &Killed) -> Option<String> {
    let pid = window.0.id();
    registered(bus)
        .into_iter()
        .find(|name| name.starts_with(&format!("org.kde.StatusNotifierItem-{pid}-")))
}

/// The tooltip's title and text.
fn tooltip(bus: &Connection, item: &str) -> Option<(String, String)> {
    let (_, _, title, text): ToolTip = property(
        bus,
        item,
        "/StatusNotifierItem",
        "org.kde.StatusNotifierItem",
        "ToolTip",
    )?;
    Some((title, text))
}

/// Every menu item under the root: (id, label, enabled).
fn menu(bus: &Connection, item: &str) -> Vec<(i32, String, bool)> {
    let reply = bus
        .call_method(
            Some(item),
            "/MenuBar",
            Some("com.canonical.dbusmenu"),
            "GetLayout",
            &(0i32, -1i32, Vec::<String>::new()),
        )
        .expect("GetLayout");
    let (_revision, layout): (u32, Layout) = reply.body().deserialize().expect("a dbusmenu layout");
    let mut out = Vec::new();
    walk(&layout.0, &layout.1, &layout.2, &mut out);
    out
}

fn walk(
    id: &i32,
    props: &HashMap<String, OwnedValue>,
    children: &[OwnedValue],
    out: &mut Vec<(i32, String, bool)>,
) {
    let label = props
        .get("label")
        .and_then(|v| <&str>::try_from(&**v).ok())
        .unwrap_or_default()
        .to_owned();
    let enabled = props
        .get("enabled")
        .and_then(|v| bool::try_from(&**v).ok())
        .unwrap_or(true);
    out.push((*id, label, enabled));
    for child in children {
        let mut value: &Value = child;
        while let Value::Value(inner) = value {
            value = inner;
        }
        let Value::Structure(s) = value else { continue };
        let fields = s.fields();
        let (Some(Value::I32(id)), Some(Value::Dict(props)), Some(Value::Array(kids))) =
            (fields.first(), fields.get(1), fields.get(2))
        else {
            continue;
        };
        let props: HashMap<String, OwnedValue> = props
            .iter()
            .filter_map(|(k, v)| {
                let k = <&str>::try_from(k).ok()?.to_owned();
                let mut v: &Value = v;
                while let Value::Value(inner) = v {
                    v = inner;
                }
                Some((k, v.try_to_owned().ok()?))
            })
            .collect();
        let kids: Vec<OwnedValue> = kids.iter().filter_map(|k| k.try_to_owned().ok()).collect();
        walk(id, &props, &kids, out);
    }
}

/// Clicks the menu item whose label starts with `label`, as a panel does,
/// once the menu offers it enabled (within 30 s: the menu follows the
/// item's state a moment later, and the contracts come with the first sync).
fn click(bus: &Connection, item: &str, label: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        let entries = menu(bus, item);
        match entries.iter().find(|(_, l, _)| l.starts_with(label)) {
            Some((id, _, true)) => break *id,
            found => assert!(
                Instant::now() < deadline,
                "{label:?} {} in the menu: {entries:?}",
                if found.is_some() { "greyed out" } else { "not" }
            ),
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    bus.call_method(
        Some(item),
        "/MenuBar",
        Some("com.canonical.dbusmenu"),
        "Event",
        &(id, "clicked", Value::from(0i32), 0u32),
    )
    .expect("a menu event");
}

/// The bar's right end as grim sees it, scaled up 3× (nearest) for eyes.
fn picture_of_the_tray(sway: &Sway, out: &Path) -> image::RgbaImage {
    let full = out.with_extension("full.png");
    let grim = Command::new("grim")
        .arg(&full)
        .envs(sway.env())
        .output()
        .expect("run grim");
    assert!(
        grim.status.success(),
        "{}",
        String::from_utf8_lossy(&grim.stderr)
    );
    let screen = image::open(&full).unwrap().to_rgba8();
    let _ = std::fs::remove_file(&full);
    let strip = image::imageops::crop_imm(&screen, 1280 - 160, 0, 160, 32).to_image();
    let big = image::imageops::resize(&strip, 480, 96, image::imageops::FilterType::Nearest);
    big.save(out).unwrap();
    strip
}

/// Pixels of the state's badge colour (RGB) in `picture`, give or take.
fn badge_pixels(picture: &image::RgbaImage, colour: [u8; 3]) -> usize {
    picture
        .pixels()
        .filter(|p| {
            p.0[..3]
                .iter()
                .zip(colour)
                .all(|(a, b)| a.abs_diff(b) <= 24)
        })
        .count()
}

fn screens() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screens");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const GREEN: [u8; 3] = [0x2e, 0xa0, 0x43];

// The item registers with waybar's watcher, shows the state in its icon
// and tooltip, and its menu's Start/Stop and Quit drive the real window:
// the time tracked between them is in the Work Diary afterwards.
#[test]
fn the_tray_on_waybar_shows_the_state_and_its_menu_drives_tracking() {
    let Some(sway) = sway() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_bus_process, address) = session_bus();
    let bus = connect(&address);
    let _bar = waybar(&sway, &address, dir.path());
    until(30, "waybar owns the watcher", dir.path(), || {
        zbus::blocking::fdo::DBusProxy::new(&bus)
            .ok()?
            .name_has_owner(WATCHER.try_into().ok()?)
            .ok()?
            .then_some(())
    });
    let mut app = window(&sway, &address, &data, dir.path());
    let item = until(60, "the item registered", dir.path(), || {
        timecard_item(&bus, &app)
    });
    let pixmaps: Vec<(i32, i32, Vec<u8>)> = property(
        &bus,
        &item,
        "/StatusNotifierItem",
        "org.kde.StatusNotifierItem",
        "IconPixmap",
    )
    .expect("IconPixmap");
    assert!(
        pixmaps
            .iter()
            .any(|(w, h, data)| *w == 32 && *h == 32 && data.len() == 32 * 32 * 4),
        "{:?}",
        pixmaps
            .iter()
            .map(|p| (p.0, p.1, p.2.len()))
            .collect::<Vec<_>>()
    );
    let status: String = property(
        &bus,
        &item,
        "/StatusNotifierItem",
        "org.kde.StatusNotifierItem",
        "Status",
    )
    .expect("Status");
    assert_eq!(status, "Active");
    let (title, text) = until(30, "the stopped tooltip", dir.path(), || {
        tooltip(&bus, &item).filter(|(t, _)| t == "Timecard — Stopped")
    });
    assert!(text.contains("Today 0:00"), "{title}: {text}");

    click(&bus, &item, "Start ");
    let (_, text) = until(30, "the tooltip says tracking", dir.path(), || {
        tooltip(&bus, &item).filter(|(t, _)| t == "Timecard — Tracking")
    });
    assert!(text.starts_with("Tracking "), "{text}");
    // ksni serves the tooltip from the item itself but the menu from a copy
    // it refreshes just after (and then signals LayoutUpdated, which makes
    // a panel ask again): on a busy machine the first look may be older.
    let entries = until(30, "the menu offers Stop", dir.path(), || {
        let entries = menu(&bus, &item);
        entries
            .iter()
            .any(|(_, l, _)| l.starts_with("Stop "))
            .then_some(entries)
    });
    for label in ["Contracts", "Show window", "Mini view", "Quit"] {
        assert!(
            entries.iter().any(|(_, l, _)| l == label),
            "no {label}: {entries:?}"
        );
    }
    // The bar shows the green badge (waybar draws the new pixmap).
    let shot = screens().join("tray-tracking.png");
    until(30, "the green badge in the bar", dir.path(), || {
        (badge_pixels(&picture_of_the_tray(&sway, &shot), GREEN) >= 6).then_some(())
    });

    // Two seconds of tracking, measured by the diary afterwards.
    let started = Instant::now();
    until(10, "two seconds", dir.path(), || {
        (started.elapsed() >= Duration::from_secs(2)).then_some(())
    });
    click(&bus, &item, "Stop ");
    until(30, "the tooltip says stopped", dir.path(), || {
        tooltip(&bus, &item).filter(|(t, _)| t == "Timecard — Stopped")
    });
    let shot = screens().join("tray-stopped.png");
    until(30, "the badge gone from the bar", dir.path(), || {
        (badge_pixels(&picture_of_the_tray(&sway, &shot), GREEN) == 0).then_some(())
    });

    // Quit from the menu ends the app the normal way.
    click(&bus, &item, "Quit");
    let status = until(30, "the app exits after Quit", dir.path(), || {
        app.0.try_wait().ok().flatten()
    });
    assert!(status.success(), "{status}");
    until(10, "the item leaves the watcher", dir.path(), || {
        (!registered(&bus).contains(&item)).then_some(())
    });
    let total = crate::common::cli::diary_total_secs(&data);
    assert!((2..=60).contains(&total), "diary total {total} s");
    let out = timecard(&data, &["status", "--json"], None);
    assert!(out.status.success());
}

// A panel that starts after the app: the item registers when the watcher
// appears (ksni follows the watcher's name on the bus).
#[test]
fn a_tray_host_that_appears_late_gets_the_item() {
    let Some(sway) = sway() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_bus_process, address) = session_bus();
    let bus = connect(&address);
    let app = window(&sway, &address, &data, dir.path());
    // The item is on the bus, waiting: no watcher yet.
    let pid = app.0.id();
    until(60, "the item's name on the bus", dir.path(), || {
        zbus::blocking::fdo::DBusProxy::new(&bus)
            .ok()?
            .list_names()
            .ok()?
            .iter()
            .any(|n| n.starts_with(&format!("org.kde.StatusNotifierItem-{pid}-")))
            .then_some(())
    });
    assert!(registered(&bus).is_empty());
    let _bar = waybar(&sway, &address, dir.path());
    let item = until(
        60,
        "the item registered with the late watcher",
        dir.path(),
        || timecard_item(&bus, &app),
    );
    let (title, _) = until(30, "its tooltip", dir.path(), || tooltip(&bus, &item));
    assert_eq!(title, "Timecard — Stopped");
    let log = std::fs::read_to_string(data.join("logs/timecard.log")).unwrap_or_default();
    assert!(log.contains("tray host present"), "{log}");
}

// No tray host at all (a bus, but no watcher): the window runs, and
// closing it ends the app as before (the partial segment cached on exit).
#[test]
fn without_a_tray_host_closing_the_window_quits() {
    let Some(sway) = sway() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_bus_process, address) = session_bus();
    let mut app = window(&sway, &address, &data, dir.path());
    until(60, "the window", dir.path(), || {
        sway.msg(&["-t", "get_tree"])
            .contains("\"name\": \"Timecard\"")
            .then_some(())
    });
    sway.msg(&["[title=\"^Timecard$\"]", "kill"]);
    let status = until(30, "the app exits on close", dir.path(), || {
        app.0.try_wait().ok().flatten()
    });
    assert!(status.success(), "{status}");
    let log = std::fs::read_to_string(data.join("logs/timecard.log")).unwrap_or_default();
    assert!(!log.contains("keeps running in the tray"), "{log}");
}

/// Asks the X11 window named exactly `name` to close, as a window
/// manager's close button does (WM_DELETE_WINDOW).
fn close_x11_window(display: &str, name: &str) {
    use x11rb::protocol::xproto::{ClientMessageEvent, ConnectionExt as _, EventMask};
    let id = visible_x11_window(display, name).expect("the window is shown");
    let (conn, _) = x11rb::connect(Some(display)).expect("connect to Xvfb");
    let atom = |name: &str| {
        conn.intern_atom(false, name.as_bytes())
            .unwrap()
            .reply()
            .unwrap()
            .atom
    };
    let (protocols, delete) = (atom("WM_PROTOCOLS"), atom("WM_DELETE_WINDOW"));
    let event = ClientMessageEvent::new(32, id, protocols, [delete, 0, 0, 0, 0]);
    conn.send_event(false, id, EventMask::NO_EVENT, event)
        .unwrap();
    // A round trip: the server has handled the request before this
    // connection goes.
    conn.get_input_focus().unwrap().reply().unwrap();
}

/// The mapped X11 window named exactly `name`, if there is one.
fn visible_x11_window(display: &str, name: &str) -> Option<u32> {
    let out = Command::new("xdotool")
        .args(["search", "--onlyvisible", "--name", &format!("^{name}$")])
        .env("DISPLAY", display)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .and_then(|l| l.trim().parse().ok())
}

// Close-to-tray on X11 (the window on Xvfb, the tray host waybar on the
// same session bus): closing the window hides it and tracking goes on,
// the one-time notice is given once and remembered, Show window brings
// it back, and Quit ends the app with the time kept.
#[test]
fn closing_the_window_on_x11_keeps_tracking_in_the_tray() {
    if !crate::common::xvfb::tools_present(&["Xvfb", "xdotool"]) {
        return;
    }
    let Some(sway) = sway() else { return };
    let x = crate::common::xvfb::Xvfb::start("1280x800x24");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (_bus_process, address) = session_bus();
    let bus = connect(&address);
    let _bar = waybar(&sway, &address, dir.path());
    let mut app = Killed(
        Command::new(env!("CARGO_BIN_EXE_timecard"))
            .env_remove("WAYLAND_DISPLAY")
            .env("DISPLAY", &x.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("TIMECARD_DATA_DIR", &data)
            .env("TIMECARD_REPORT_STARTUP", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::log(dir.path(), "timecard.stderr"))
            .spawn()
            .expect("start the window"),
    );
    let item = until(60, "the item registered", dir.path(), || {
        timecard_item(&bus, &app)
    });
    // Drawn, so that the window is up before it is closed.
    until(60, "the first frame", dir.path(), || {
        std::fs::read_to_string(dir.path().join("timecard.stderr"))
            .ok()?
            .contains("first frame")
            .then_some(())
    });
    until(60, "the window shown", dir.path(), || {
        visible_x11_window(&x.display, "Timecard")
    });
    click(&bus, &item, "Start ");
    until(30, "tracking", dir.path(), || {
        tooltip(&bus, &item).filter(|(t, _)| t == "Timecard — Tracking")
    });
    let started = Instant::now();
    let log = || std::fs::read_to_string(data.join("logs/timecard.log")).unwrap_or_default();
    for round in 1..=2 {
        close_x11_window(&x.display, "Timecard");
        until(30, "the window hidden", dir.path(), || {
            visible_x11_window(&x.display, "Timecard")
                .is_none()
                .then_some(())
        });
        assert!(app.0.try_wait().unwrap().is_none(), "the app quit");
        let (title, _) = tooltip(&bus, &item).expect("the item is still there");
        assert_eq!(title, "Timecard — Tracking", "round {round}");
        click(&bus, &item, "Show window");
        until(30, "the window shown again", dir.path(), || {
            visible_x11_window(&x.display, "Timecard")
        });
    }
    let log = log();
    assert_eq!(
        log.matches("keeps running in the tray; quit from its menu")
            .count(),
        1,
        "the notice is given once: {log}"
    );
    let settings: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("settings.json")).unwrap()).unwrap();
    assert_eq!(settings["tray_notice_shown"], true, "{settings}");
    // Two seconds of tracking at least, for the diary afterwards.
    until(10, "two seconds", dir.path(), || {
        (started.elapsed() >= Duration::from_secs(2)).then_some(())
    });
    click(&bus, &item, "Quit");
    let status = until(30, "the app exits after Quit", dir.path(), || {
        app.0.try_wait().ok().flatten()
    });
    assert!(status.success(), "{status}");
    // The time tracked is kept: the segment was cached on the way out
    // (it uploads at the next start).
    let log = std::fs::read_to_string(data.join("logs/timecard.log")).unwrap_or_default();
    let cached: i64 = log
        .lines()
        .filter(|l| l.contains("cached: demo-hourly"))
        .filter_map(|l| {
            l.rsplit_once(" (")?
                .1
                .split_once(" s")?
                .0
                .parse::<i64>()
                .ok()
        })
        .sum();
    assert!(cached >= 2, "{cached} s kept: {log}");
}

const AMBER: [u8; 3] = [0xd9, 0x8c, 0x1f];

// Idle through the compositor's real idle notifications (threshold one
// minute, the smallest the settings take, and no input at all): the
// tooltip says since when, the item asks for attention and the bar shows
// the amber badge.
#[test]
fn the_tray_shows_idle_from_the_compositor() {
    let Some(sway) = sway() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("settings.json"), r#"{"idle_threshold_mins": 1}"#).unwrap();
    let (_bus_process, address) = session_bus();
    let bus = connect(&address);
    let _bar = waybar(&sway, &address, dir.path());
    until(30, "waybar owns the watcher", dir.path(), || {
        zbus::blocking::fdo::DBusProxy::new(&bus)
            .ok()?
            .name_has_owner(WATCHER.try_into().ok()?)
            .ok()?
            .then_some(())
    });
    let app = window(&sway, &address, &data, dir.path());
    let item = until(60, "the item registered", dir.path(), || {
        timecard_item(&bus, &app)
    });
    click(&bus, &item, "Start ");
    let (_, text) = until(150, "the tooltip says idle", dir.path(), || {
        tooltip(&bus, &item).filter(|(t, _)| t == "Timecard — Idle")
    });
    assert!(text.contains("Idle since "), "{text}");
    let status: String = property(
        &bus,
        &item,
        "/StatusNotifierItem",
        "org.kde.StatusNotifierItem",
        "Status",
    )
    .expect("Status");
    assert_eq!(status, "NeedsAttention");
    let shot = screens().join("tray-idle.png");
    until(30, "the amber badge in the bar", dir.path(), || {
        (badge_pixels(&picture_of_the_tray(&sway, &shot), AMBER) >= 6).then_some(())
    });
}
