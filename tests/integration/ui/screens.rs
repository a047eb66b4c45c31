//! D9: every screen and dialog at the three window sizes the app is made
//! for (760×620, the default; 1366×768; 1920×1080), drawn to a PNG (through
//! wgpu: Mesa's lavapipe on a machine without a GPU) under
//! `target/tmp/screens/` to look at, and checked through the accessibility
//! tree: no widget or text runs past the window's edges, none sits under a
//! vertical scroll bar, and what does not fit lies in a scroll area.
//!
//! The pictures are not compared with committed ones: the text's
//! anti-aliasing differs between renderers and Mesa versions. What must
//! hold is asserted on the widgets' rectangles.

use super::*;
use egui::accesskit::Role;
use std::path::PathBuf;

/// The window sizes of D9.
const SIZES: [[f32; 2]; 3] = [[760.0, 620.0], [1366.0, 768.0], [1920.0, 1080.0]];

fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screens");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Roles that only hold other nodes: their rectangles are their
/// children's, checked one by one.
fn is_container(role: Role) -> bool {
    matches!(
        role,
        Role::Window
            | Role::GenericContainer
            | Role::ScrollBar
            | Role::ScrollView
            | Role::Group
            | Role::Pane
            | Role::Unknown
            | Role::Dialog
            | Role::AlertDialog
            | Role::Grid
            | Role::Table
            | Role::Row
            | Role::Menu
            | Role::MenuBar
            | Role::TabList
    )
}

/// What is wrong with the layout drawn last, one line per widget.
fn layout_faults(w: &Window, size: egui::Vec2) -> Vec<String> {
    let bars: Vec<egui::Rect> = w
        .harness
        .query_all_by_role(Role::ScrollBar)
        .map(|n| n.rect())
        .filter(|r| r.height() > r.width())
        .collect();
    let window = egui::Rect::from_min_size(egui::Pos2::ZERO, size).expand(0.5);
    let mut faults = Vec::new();
    for node in w.harness.query_all_by(|_| true) {
        let role = node.accesskit_node().role();
        let Some(b) = node.accesskit_node().bounding_box() else {
            continue;
        };
        let rect = egui::Rect::from_min_max(
            egui::pos2(b.x0 as f32, b.y0 as f32),
            egui::pos2(b.x1 as f32, b.y1 as f32),
        );
        if is_container(role) || rect.area() < 1.0 {
            continue;
        }
        let ak = node.accesskit_node();
        let name = format!(
            "{role:?} {:?}",
            ak.label().or_else(|| ak.value()).unwrap_or_default()
        );
        if rect.min.x < window.min.x || rect.max.x > window.max.x {
            faults.push(format!("{name} runs past the window's side: {rect:?}"));
        }
        let scrolled = bars
            .iter()
            .any(|bar| bar.min.x >= rect.max.x - 0.5 && rect.min.x >= bar.min.x - size.x);
        if !window.contains_rect(rect) && !scrolled {
            faults.push(format!(
                "{name} is cut off at the top or bottom, outside any scroll area: {rect:?}"
            ));
        }
        for bar in &bars {
            let overlap = rect.intersect(*bar);
            if overlap.width() > 0.5 && overlap.height() > 0.5 {
                faults.push(format!(
                    "{name} lies under a scroll bar at {bar:?}: {rect:?}"
                ));
            }
        }
    }
    faults
}

/// Draws the window as it is now at each size, saves the pictures
/// (`{name}-{width}x{height}.png`) and asserts the layout holds.
fn shoot(w: &mut Window, name: &str) {
    let mut faults = Vec::new();
    for [width, height] in SIZES {
        let size = egui::vec2(width, height);
        w.harness.set_size(size);
        // A resize is laid out over a few frames (modals size themselves
        // to their content, grids measure their columns).
        for _ in 0..4 {
            w.harness.step();
        }
        let image = w.harness.render().expect("drawing the window");
        let path = out_dir().join(format!("{name}-{width}x{height}.png"));
        image.save(&path).unwrap();
        faults.extend(
            layout_faults(w, size)
                .into_iter()
                .map(|f| format!("{name} at {width}×{height}: {f}")),
        );
    }
    assert!(faults.is_empty(), "{}", faults.join("\n"));
}

fn close_all(w: &mut Window) {
    let state = &mut w.harness.state_mut().state;
    state.reset_dialog = false;
    state.report = None;
    state.signin = None;
    state.confirm_sign_out = false;
    state.about = None;
    state.manual = None;
    state.mini = false;
    w.harness.step();
    w.harness.step();
}

// D9: the built-in local server's screens, tracking and not, with the
// idle line and question, a dispute, and every dialog of this mode.
#[test]
fn every_local_screen_and_dialog_fits_the_three_sizes() {
    let last = Arc::new(std::sync::Mutex::new(Some(at("2026-11-25T15:00:00Z"))));
    let settings = Settings {
        time_zone: Some("UTC".into()),
        ..Settings::default()
    };
    let mut w = open_with_activity(settings, |_| {}, Box::new(super::Inputs(last.clone())));
    shoot(&mut w, "tracker");

    w.click("Contracts");
    w.until("the terms", |app| {
        app.latest()
            .contract("demo-hourly")
            .is_some_and(|c| c.manual_time)
    });
    w.harness
        .get_by_label("Add time by hand to Backend development…");
    shoot(&mut w, "contracts");
    w.click("Add time by hand to Backend development…");
    shoot(&mut w, "dialog-manual-time");
    close_all(&mut w);

    w.click("Work Diary");
    shoot(&mut w, "work-diary");
    w.click("Cache");
    shoot(&mut w, "cache");
    w.click("Settings");
    w.harness.get_by_label("Clear cache and restart…");
    shoot(&mut w, "settings-local");
    // At the default size the danger zone's button is in view whole,
    // above the status line, without scrolling.
    w.harness.set_size(egui::vec2(760.0, 620.0));
    for _ in 0..4 {
        w.harness.step();
    }
    let button = w.harness.get_by_label("Clear cache and restart…").rect();
    let status = w
        .harness
        .get_by_label("Local only (no server configured)")
        .rect();
    assert!(
        button.max.y <= status.min.y - 4.0,
        "at 760×620 the danger zone's button at {button:?} is not above the status line at {status:?}"
    );
    w.click("Use my organisation's server…");
    shoot(&mut w, "dialog-sign-in");
    close_all(&mut w);
    w.click("Clear cache and restart…");
    shoot(&mut w, "dialog-clear-cache");
    close_all(&mut w);
    w.click("Help");
    w.click("Report a problem…");
    shoot(&mut w, "dialog-report");
    close_all(&mut w);
    w.click("Help");
    w.click("About Timecard");
    shoot(&mut w, "dialog-about");
    close_all(&mut w);

    w.click("Tracker");
    w.click("Start");
    w.until("tracking", |app| tracking(app).is_some());
    shoot(&mut w, "tracker-tracking");
    w.click("Mini view");
    shoot(&mut w, "mini-view");
    close_all(&mut w);

    // No input from 15:01: idle under the default threshold (5 minutes),
    // then back at 15:31 with the question.
    let tick = |w: &mut Window, minutes: i64| {
        w.clock.advance(Duration::minutes(minutes));
        let engine = w.harness.state().engine().unwrap();
        engine.worker.send(timecard_client::worker::Command::Tick);
    };
    *last.lock().unwrap() = Some(at("2026-11-25T15:01:00Z"));
    tick(&mut w, 30);
    w.until("idle noticed", |app| app.latest().idle.is_some());
    w.harness.get_by_label_contains("Idle since 15:01");
    shoot(&mut w, "tracker-idle");
    *last.lock().unwrap() = Some(at("2026-11-25T15:31:00Z"));
    tick(&mut w, 1);
    w.until("the idle question", |app| {
        app.latest()
            .idle
            .as_ref()
            .is_some_and(|i| i.returned.is_some())
    });
    w.harness.step();
    w.harness.get_by_label("You were idle");
    shoot(&mut w, "dialog-idle");
    w.click("Keep idle time");
    w.until("the answer", |app| app.latest().idle.is_none());
    w.click("Stop");
    w.until("stopped", |app| tracking(app).is_none());

    dispute(&mut w);
    w.click("Tracker");
    shoot(&mut w, "tracker-dispute");
    w.click("Contracts");
    shoot(&mut w, "contracts-dispute");
}

/// The contract's client disputes a segment of last week, as in
/// `a_disputed_segment_shows_on_the_contracts_screen`.
fn dispute(w: &mut Window) {
    use timecard_server::rules::{ReviewAction, ReviewRequest, ReviewTarget};
    use timecard_server::store::{Role, Store};
    let segment = w.upload_from_another_device(at("2026-11-24T10:00:00Z"), None);
    let store =
        timecard_server::open_store(&w.harness.state().data_dir().local_server_dir()).unwrap();
    let client = store.add_user("acme", None, "x").unwrap();
    store.set_role("acme", Role::Client).unwrap();
    let mut contract = store.contract("demo-hourly").unwrap().unwrap();
    contract.terms.client_user_id = Some(client);
    store.save_contract(&contract).unwrap();
    store
        .review(
            &ReviewRequest {
                contract_id: "demo-hourly".into(),
                by_user_id: client,
                by_admin: false,
                target: ReviewTarget::Segment(segment.id),
                action: ReviewAction::Dispute,
                note: "Not this project".into(),
            },
            at("2026-11-30T09:00:00Z"),
            5 * 86_400,
        )
        .unwrap()
        .unwrap();
    w.harness
        .state()
        .engine()
        .unwrap()
        .worker
        .send(timecard_client::worker::Command::Refresh);
    w.until("the dispute", |app| {
        app.latest()
            .contracts
            .iter()
            .any(|c| !c.disputes.is_empty())
    });
}

// D9: signing in to a real server over TLS on loopback (the question to
// trust its certificate), Settings signed in, the sign-out confirmation,
// and Settings after sign-out (a 500 px column with its scroll bar in the
// middle of the window before).
#[test]
fn signed_in_and_signed_out_screens_fit_the_three_sizes() {
    let server = common::server::TestServer::start(at("2026-11-25T15:00:00Z"));
    let mut w = open();
    w.click("Settings");
    w.click("Use my organisation's server…");
    w.harness.state_mut().state.signin = Some(timecard::ui::SignInForm {
        server: server.url(),
        login: "ann".into(),
        password: common::server::PASSWORD.into(),
        ..Default::default()
    });
    for _ in 0..4 {
        w.harness.step();
    }
    w.harness
        .get_by_role_and_label(Role::Button, "Sign in")
        .click();
    w.harness.step();
    w.until("the question", |app| {
        app.state
            .signin
            .as_ref()
            .is_some_and(|f| f.question.is_some())
    });
    w.harness.get_by_label("Trust this server?");
    shoot(&mut w, "dialog-trust");
    w.click("Trust");
    w.until("the server's contracts", |app| {
        app.latest()
            .contracts
            .iter()
            .any(|c| c.contract.id == "ann-hourly")
    });
    w.harness.get_by_label("Signed in as ann on");
    shoot(&mut w, "settings-signed-in");
    w.click("Tracker");
    shoot(&mut w, "tracker-signed-in");
    w.click("Settings");
    w.click("Sign out…");
    w.harness
        .get_by_label(&format!("Sign out of {}?", server.url()));
    shoot(&mut w, "dialog-sign-out");
    w.harness
        .get_by_role_and_label(Role::Button, "Sign out")
        .click();
    w.harness.step();
    w.until("signed out", |app| {
        matches!(
            app.latest().sync.state,
            timecard_client::sync::SyncState::SignedOut { .. }
        )
    });
    w.harness.get_by_label("Clear cache and restart…");
    shoot(&mut w, "settings-signed-out");
    // The scroll area fills the window: its bar (when it has one) is at
    // the window's right edge, not after a narrow column.
    for [width, height] in SIZES {
        w.harness.set_size(egui::vec2(width, height));
        for _ in 0..4 {
            w.harness.step();
        }
        for bar in w.harness.query_all_by_role(Role::ScrollBar) {
            let rect = bar.rect();
            assert!(
                rect.max.x > width - 20.0,
                "a scroll bar at {rect:?} in a {width}×{height} window"
            );
        }
    }
    w.click("Tracker");
    shoot(&mut w, "tracker-signed-out");
}
