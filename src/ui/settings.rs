//! Settings: General (time zone, screenshot quality), Advanced (fixed-price
//! tracking, server, certificate, cache capacity) and the danger zone.

use egui::RichText;

use super::{Intent, UiState, theme};

/// "System (Etc/UTC)": what an empty time zone field means on this computer.
pub fn system_zone_text() -> String {
    static SYSTEM: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let name = SYSTEM.get_or_init(|| {
        timecard_client::settings::system_zone()
            .unwrap_or(chrono_tz::UTC)
            .name()
            .to_owned()
    });
    format!("System ({name})")
}

/// Where screenshots and activity come from in this session, and why, in
/// words ("wlr-screencopy, because …"). Looked up once: the session does
/// not change under a running app.
pub fn session_sources() -> &'static (String, String) {
    static SOURCES: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    SOURCES.get_or_init(|| {
        let shots = timecard_client::capture::choose(
            timecard_client::capture::SourceChoice::Auto,
            70,
            1920,
        );
        let (_, activity, why) = timecard_client::activity::choose();
        (
            format!("{}, because {}", shots.name, shots.why),
            format!("{activity}, because {why}"),
        )
    })
}

/// *Start Timecard when I sign in*: applied at once (it is the desktop's
/// setting, not the app's), where the system has a place for it.
fn autostart_switch(ui: &mut egui::Ui, error: &mut Option<String>) {
    let Some(autostart) = timecard_client::platform::autostart::here() else {
        return;
    };
    let mut on = autostart.is_on();
    if ui
        .checkbox(&mut on, "Start Timecard when I sign in to this computer")
        .changed()
    {
        *error = std::env::current_exe()
            .and_then(|exe| autostart.set(on, &exe))
            .err()
            .map(|e| format!("Could not change {}: {e}", autostart.location()));
    }
    if let Some(error) = error {
        ui.label(RichText::new(error.as_str()).color(theme::BAD));
    }
}

/// From this width of the screen, Settings are two columns: General on
/// the left; Advanced, Save and the danger zone on the right (D9).
const TWO_COLUMNS: f32 = 1000.0;

/// D9: Settings fit the default 760×620 window down to the danger zone's
/// button, and use two columns on wide windows.
pub fn settings_ui(ui: &mut egui::Ui, state: &mut UiState, intents: &mut Vec<Intent>) {
    if ui.available_width() >= TWO_COLUMNS {
        ui.columns(2, |columns| {
            let [left, right] = columns else {
                unreachable!("two columns")
            };
            // Not justified: buttons keep their own width.
            left.vertical(|ui| {
                ui.set_max_width(ui.available_width() - 16.0);
                general_ui(ui, state);
            });
            right.vertical(|ui| {
                advanced_ui(ui, state, intents);
                ui.add_space(12.0);
                danger_ui(ui, state);
            });
        });
    } else {
        general_ui(ui, state);
        ui.add_space(4.0);
        advanced_ui(ui, state, intents);
        ui.add_space(12.0);
        danger_ui(ui, state);
    }
    session_ui(ui);
}

fn general_ui(ui: &mut egui::Ui, state: &mut UiState) {
    let edited = &mut state.edited;
    ui.heading("General");
    // One grid, so the fields and sliders start at the same x.
    egui::Grid::new("settings-general")
        .num_columns(2)
        .spacing([16.0, 8.0])
        .show(ui, |ui| {
            let label = ui.label("Time zone");
            ui.horizontal(|ui| {
                let mut text = edited.time_zone.clone().unwrap_or_default();
                // Empty means the system zone: the hint says which one that is.
                let field = ui
                    .add(
                        egui::TextEdit::singleline(&mut text)
                            .hint_text(system_zone_text())
                            .desired_width(170.0),
                    )
                    .labelled_by(label.id);
                if field.changed() {
                    edited.time_zone = Some(text.trim().to_owned()).filter(|t| !t.is_empty());
                }
                if ui
                    .add_enabled(
                        edited.time_zone.is_some(),
                        egui::Button::new("Use system zone"),
                    )
                    .clicked()
                {
                    edited.time_zone = None;
                }
            });
            ui.end_row();
            if let Some(zone) = &edited.time_zone
                && zone.parse::<chrono_tz::Tz>().is_err()
            {
                ui.label("");
                ui.add(
                    egui::Label::new(
                        RichText::new(format!(
                            "{zone:?} is not an IANA time zone (e.g. Europe/Berlin)"
                        ))
                        .color(theme::BAD),
                    )
                    .wrap(),
                );
                ui.end_row();
            }
            ui.label("Screenshot quality");
            ui.add(egui::Slider::new(&mut edited.screenshot_quality, 30..=95).suffix(" %"));
            ui.end_row();
            ui.label("Screenshot size")
                .on_hover_text("The longest side of a screenshot, in pixels");
            ui.add(egui::Slider::new(&mut edited.screenshot_max_side, 640..=3840).suffix(" px"));
            ui.end_row();
            ui.label("Ask about idle time after");
            ui.add(egui::Slider::new(&mut edited.idle_threshold_mins, 1..=60).suffix(" min"));
            ui.end_row();
        });
    ui.checkbox(&mut edited.notifications, "Desktop notifications")
        .on_hover_text(
            "Tracking stopped, cached time at risk, black screenshots, back from idle, back online",
        );
    tray_switch_ui(ui, &mut edited.close_to_tray, state.tray_host);
    autostart_switch(ui, &mut state.autostart_error);
}

fn advanced_ui(ui: &mut egui::Ui, state: &mut UiState, intents: &mut Vec<Intent>) {
    let edited = &mut state.edited;
    ui.heading("Advanced");
    ui.checkbox(
        &mut edited.track_fixed_price,
        "Track time on fixed-price contracts",
    );
    ui.label(
        RichText::new(
            "Fixed-price time is logged, but not counted in your hourly totals or weekly limits.",
        )
        .small()
        .color(theme::MUTED),
    );
    egui::Grid::new("settings-advanced")
        .num_columns(2)
        .spacing([16.0, 8.0])
        .show(ui, |ui| {
            ui.label("Server");
            // Rows of their own: a wrapped row in a grid cell overlaps the
            // grid's next row.
            ui.vertical(|ui| match (&edited.server, &state.account) {
                (None, _) => {
                    ui.horizontal_wrapped(|ui| {
                        ui.label("Built-in local server: your time stays on this computer.");
                        if ui.button("Use my organisation's server…").clicked() {
                            intents.push(Intent::OpenSignIn);
                        }
                    });
                }
                (Some(server), Some(login)) => {
                    ui.horizontal(|ui| {
                        ui.label(format!("Signed in as {login} on"));
                        ui.label(RichText::new(server).monospace());
                    });
                    ui.horizontal(|ui| {
                        if ui.button("Sign out…").clicked() {
                            state.confirm_sign_out = true;
                        }
                        if ui.button("Sign in to another server…").clicked() {
                            intents.push(Intent::OpenSignIn);
                        }
                    });
                }
                (Some(server), None) => {
                    ui.horizontal_wrapped(|ui| {
                        ui.label("Not signed in to");
                        ui.label(RichText::new(server).monospace());
                        if ui.button("Sign in…").clicked() {
                            intents.push(Intent::OpenSignIn);
                        }
                    });
                }
            });
            ui.end_row();
            if let Some(ca) = &edited.server_ca {
                ui.label("Trusted certificate");
                ui.add(egui::Label::new(ca.display().to_string()).wrap());
                ui.end_row();
            }
            ui.label("Cache capacity");
            ui.add(
                egui::DragValue::new(&mut edited.cache_capacity_hours)
                    .range(1.0..=168.0)
                    .suffix(" h"),
            );
            ui.end_row();
        });
    ui.add_space(8.0);
    let valid_zone = edited
        .time_zone
        .as_ref()
        .is_none_or(|z| z.parse::<chrono_tz::Tz>().is_ok());
    if ui
        .add_enabled(valid_zone, egui::Button::new("Save settings"))
        .clicked()
    {
        intents.push(Intent::SaveSettings(edited.clone()));
    }
}

/// The danger zone: one framed line, its button first (the confirmation
/// lists what is lost).
fn danger_ui(ui: &mut egui::Ui, state: &mut UiState) {
    egui::Frame::group(ui.style())
        .stroke(egui::Stroke::new(1.0, theme::BAD))
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new("Danger zone").strong().color(theme::BAD));
                if ui.button("Clear cache and restart…").clicked() {
                    state.reset_dialog = true;
                }
                ui.label(
                    RichText::new("Wipes the data folder and restarts Timecard.")
                        .small()
                        .color(theme::MUTED),
                );
            });
        });
}

/// At the end: what this session offers, and why (nothing to set).
fn session_ui(ui: &mut egui::Ui) {
    ui.add_space(12.0);
    let (shots, activity) = session_sources();
    for line in [
        format!("Screenshots come from {shots}."),
        format!("Activity comes from {activity}."),
    ] {
        ui.add(egui::Label::new(RichText::new(line).small().color(theme::MUTED)).wrap());
    }
}

/// D8: whether closing the window keeps Timecard in the tray, with why it
/// does not apply here when it does not.
fn tray_switch_ui(ui: &mut egui::Ui, close_to_tray: &mut bool, host: bool) {
    let hideable = crate::ui::can_hide_window();
    let checkbox = ui.add_enabled(
        host && hideable,
        egui::Checkbox::new(
            close_to_tray,
            "Keep running in the tray when the window is closed",
        ),
    );
    let why = if !host {
        "No tray is shown on this desktop (no StatusNotifierItem host): closing the window quits."
    } else if !hideable {
        "On Wayland a program cannot hide its window: closing it quits. The tray icon still works."
    } else {
        "Tracking goes on with the window closed; quit from the tray icon's menu."
    };
    checkbox.on_hover_text(why).on_disabled_hover_text(why);
}
