//! The dialogs: sign-in (Y5), *Report a problem* (D3) and the *Clear cache
//! and restart* confirmation (D4).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use egui::RichText;

use super::{Intent, UiState, theme};
use timecard_client::connect::SignInTo;
use timecard_client::platform::DataDir;
use timecard_client::settings::Settings;
use timecard_client::sync::Fingerprint;
use timecard_client::worker::{Command, Snapshot};
use timecard_core::fmt::hms;
use timecard_core::protocol::{ProblemReport, ReportFormError};

/// The sign-in form.
#[derive(Clone, Debug, Default)]
pub struct SignInForm {
    /// Empty for the built-in local server.
    pub server: String,
    pub login: String,
    pub password: String,
    pub certificate: String,
    /// Y7: the certificate fingerprint the user chose to trust.
    pub trusted: Option<Fingerprint>,
    /// Y7: the server presented a certificate this computer does not
    /// trust: shown with *Trust* and *Cancel* instead of the form's buttons.
    pub question: Option<TrustQuestion>,
    /// The file picker (the desktop portal) is open.
    pub picking: Option<Picking>,
    /// Why the file picker did not open.
    pub picker_error: Option<String>,
    /// I5: sign in through the system browser (single sign-on) instead
    /// of the password.
    pub browser: bool,
    /// I4: what the server said of single sign-on, asked in the
    /// background for the address typed.
    pub provider: Option<ProviderProbe>,
}

/// The server an answer is for, and the provider's name it gave (`None`
/// until it answers or when it signs in with passwords only).
pub type ProviderProbe = std::sync::Arc<std::sync::Mutex<(String, Option<Option<String>>)>>;

/// The answer of the file dialog, when it comes.
pub type Picking = std::sync::Arc<std::sync::Mutex<std::sync::mpsc::Receiver<Picked>>>;
/// A chosen file, none (cancelled), or why the dialog failed.
pub type Picked = Result<Option<PathBuf>, String>;

/// Y7: "Trust this server?" — what it presented, and what was trusted
/// before if the certificate changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustQuestion {
    pub host: String,
    pub presented: Fingerprint,
    pub previous: Option<Fingerprint>,
}

impl SignInForm {
    /// Fills in the login last used on the form's server.
    pub fn remembered(mut self, data: &DataDir) -> Self {
        if self.login.is_empty()
            && let Some(login) = timecard_client::connect::last_login(data, &self.server)
        {
            self.login = login;
        }
        self
    }

    pub fn from_settings(settings: &Settings) -> Self {
        SignInForm {
            server: settings.server.clone().unwrap_or_default(),
            certificate: settings
                .server_ca
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            ..SignInForm::default()
        }
    }

    /// What the form asks for: an empty server is the built-in one.
    pub fn target(&self) -> SignInTo {
        if self.server.trim().is_empty() {
            return SignInTo::Builtin;
        }
        SignInTo::Server {
            address: self.server.trim().to_owned(),
            certificate: match self.certificate.trim() {
                "" => None,
                path => Some(path.into()),
            },
            fingerprint: self.trusted,
            login: self.login.clone(),
            password: self.password.clone(),
            browser_code: None,
        }
    }

    /// The trust the form gives the server: its certificate file, the
    /// fingerprint trusted, or the public roots.
    pub fn trust(&self) -> timecard_client::sync::Trust {
        use timecard_client::sync::Trust;
        match (self.certificate.trim(), self.trusted) {
            ("", Some(f)) => Trust::Pinned(f),
            ("", None) => Trust::Public,
            (path, _) => std::fs::read(path).map_or(Trust::Public, Trust::CaPem),
        }
    }

    /// I4: asks the server of the form (in the background) whether it signs
    /// in with an identity provider, unless it was asked already.
    fn probe_provider(&mut self, ctx: &egui::Context) {
        let server = self.server.trim().to_owned();
        if !server.starts_with("https://")
            || self
                .provider
                .as_ref()
                .is_some_and(|p| p.lock().map(|p| p.0 == server).unwrap_or(true))
        {
            return;
        }
        let probe: ProviderProbe =
            std::sync::Arc::new(std::sync::Mutex::new((server.clone(), None)));
        self.provider = Some(probe.clone());
        let trust = self.trust();
        let ctx = ctx.clone();
        let _ = std::thread::Builder::new()
            .name("timecard-sign-on".into())
            .spawn(move || {
                let name = timecard_client::browser_sign_in::provider_name(&server, &trust);
                if let Ok(mut p) = probe.lock() {
                    p.1 = Some(name);
                }
                ctx.request_repaint();
            });
    }

    /// The provider's name when the server said it has one; `Some(None)`
    /// while unknown; `None` when it signs in with passwords only.
    fn provider_name(&self) -> Option<Option<String>> {
        let probe = self.provider.as_ref()?.lock().ok()?;
        match &probe.1 {
            Some(Some(name)) => Some(Some(name.clone())),
            Some(None) => None,
            None => Some(None),
        }
    }
}

/// The *Report a problem* form.
#[derive(Clone, Debug)]
pub struct ReportForm {
    pub description: String,
    pub contract_id: Option<String>,
    /// The incident's date and time as typed, in the user's zone.
    pub when: String,
    pub attach_logs: bool,
}

impl ReportForm {
    /// An empty form with the incident time pre-filled: now, in `zone`.
    pub fn new(now: DateTime<Utc>, zone: Tz, contract_id: Option<String>) -> Self {
        ReportForm {
            description: String::new(),
            contract_id,
            when: now
                .with_timezone(&zone)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            attach_logs: true,
        }
    }

    /// The form as sent (logs are attached later, off the UI thread), or
    /// what is wrong with it.
    pub fn to_report(&self, zone: Tz, now: DateTime<Utc>) -> Result<ProblemReport, String> {
        ProblemReport::compose(
            &self.description,
            self.contract_id.clone(),
            Some(&self.when),
            zone,
            now,
        )
        .map_err(|e| match e {
            ReportFormError::NoDescription => "Please describe what happened.".into(),
            ReportFormError::BadTime(why) => why,
        })
    }
}

pub fn dialogs_ui(
    ctx: &egui::Context,
    snapshot: &Snapshot,
    state: &mut UiState,
    now: DateTime<Utc>,
    zone: Tz,
    builtin_server: bool,
    intents: &mut Vec<Intent>,
) {
    if state.reset_dialog {
        reset_dialog_ui(ctx, snapshot, state, builtin_server, intents);
    }
    if state.report.is_some() {
        report_dialog_ui(ctx, snapshot, state, now, zone, intents);
    }
    if state.signin.is_some() {
        signin_dialog_ui(ctx, state, builtin_server, intents);
    }
    if state.confirm_sign_out {
        sign_out_dialog_ui(ctx, state, intents);
    }
    if let Some(about) = &state.about
        && about_dialog_ui(ctx, about)
    {
        state.about = None;
    }
    if let Some(idle) = &snapshot.idle
        && let Some(returned) = idle.returned
    {
        idle_dialog_ui(ctx, idle.since, returned, zone, intents);
    }
}

/// S5: back from idle — keep or discard the time.
fn idle_dialog_ui(
    ctx: &egui::Context,
    since: DateTime<Utc>,
    back: DateTime<Utc>,
    zone: Tz,
    intents: &mut Vec<Intent>,
) {
    egui::Modal::new(egui::Id::unique("idle")).show(ctx, |ui| {
        ui.set_max_width(420.0);
        ui.heading("You were idle");
        ui.label(format!(
            "No keyboard or mouse input from {} to {} ({}). Keep this time as work, or discard it?",
            since.with_timezone(&zone).format("%H:%M:%S"),
            back.with_timezone(&zone).format("%H:%M:%S"),
            hms((back - since).num_seconds())
        ));
        ui.horizontal(|ui| {
            if ui.button("Keep idle time").clicked() {
                intents.push(Intent::Worker(Command::ResolveIdle { keep: true }));
            }
            if ui.button("Discard idle time").clicked() {
                intents.push(Intent::Worker(Command::ResolveIdle { keep: false }));
            }
        });
    });
}

/// D4: what exactly is lost, with *Export un-uploaded time first*.
fn reset_dialog_ui(
    ctx: &egui::Context,
    snapshot: &Snapshot,
    state: &mut UiState,
    builtin_server: bool,
    intents: &mut Vec<Intent>,
) {
    let modal = egui::Modal::new(egui::Id::unique("reset")).show(ctx, |ui| {
        ui.set_max_width(440.0);
        ui.heading("Clear cache and restart?");
        ui.label("This deletes Timecard's data folder on this computer. You lose:");
        let cache = &snapshot.cache;
        let unsaved = cache.pending_secs;
        ui.label(
            RichText::new(format!(
                "• Un-uploaded time: {} in {}",
                hms(unsaved),
                timecard_core::fmt::count(
                    (cache.pending_segments + cache.refused.len()) as u64,
                    "segment",
                    "segments"
                )
            ))
            .color(if unsaved > 0 {
                theme::BAD
            } else {
                ui.visuals().text_color()
            }),
        );
        ui.label("• Your settings");
        ui.label("• Your saved sign-in");
        ui.label("• The logs (export them from Help first if you need them)");
        if builtin_server {
            ui.label(
                RichText::new(
                    "• The built-in server's Work Diary: all time recorded on this computer",
                )
                .color(theme::BAD),
            );
        } else {
            ui.label(RichText::new("Time already on your server is not affected.").small());
        }
        ui.add_space(8.0);
        if let Some(error) = &state.reset_error {
            ui.label(RichText::new(error).color(theme::BAD));
            ui.add_space(4.0);
        }
        let idle = !state.clearing;
        ui.horizontal(|ui| {
            if ui
                .add_enabled(idle, egui::Button::new("Export un-uploaded time first"))
                .clicked()
            {
                intents.push(Intent::Worker(Command::ExportCache(PathBuf::from(
                    &state.export_dir,
                ))));
            }
        });
        ui.horizontal(|ui| {
            if ui.add_enabled(idle, egui::Button::new("Cancel")).clicked() {
                state.reset_dialog = false;
                state.reset_error = None;
            }
            let wipe = egui::Button::new(
                RichText::new("Clear cache and restart").color(egui::Color32::WHITE),
            )
            .fill(theme::BAD);
            if ui.add_enabled(idle, wipe).clicked() {
                intents.push(Intent::ClearAndRestart);
            }
        });
        if state.clearing {
            ui.horizontal(|ui| {
                ui.add(egui::Spinner::new());
                ui.label("Stopping tracking and clearing the data folder…");
            });
        }
    });
    if modal.should_close() && !state.clearing {
        state.reset_dialog = false;
        state.reset_error = None;
    }
}

fn report_dialog_ui(
    ctx: &egui::Context,
    snapshot: &Snapshot,
    state: &mut UiState,
    now: DateTime<Utc>,
    zone: Tz,
    intents: &mut Vec<Intent>,
) {
    let Some(form) = state.report.as_mut() else {
        return;
    };
    let mut close = false;
    let modal = egui::Modal::new(egui::Id::unique("report")).show(ctx, |ui| {
        ui.set_max_width(480.0);
        ui.heading("Report a problem");
        let label = ui.label("What happened?");
        ui.add(
            egui::TextEdit::multiline(&mut form.description)
                .desired_rows(4)
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
        ui.horizontal(|ui| {
            let shown = form
                .contract_id
                .as_deref()
                .and_then(|id| snapshot.contract(id))
                .map_or("None".to_owned(), |c| c.contract.title.clone());
            egui::ComboBox::from_label("Contract")
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut form.contract_id, None, "None");
                    for c in &snapshot.contracts {
                        ui.selectable_value(
                            &mut form.contract_id,
                            Some(c.contract.id.clone()),
                            c.contract.title.clone(),
                        );
                    }
                });
        });
        ui.horizontal(|ui| {
            let label = ui.label(format!("When ({})", zone.name()));
            ui.add(egui::TextEdit::singleline(&mut form.when).desired_width(160.0))
                .labelled_by(label.id);
        });
        ui.checkbox(&mut form.attach_logs, "Attach logs")
            .on_hover_text("The log files of this computer: events and errors, never passwords, tokens or screenshots");
        let checked = form.to_report(zone, now);
        if let Err(problem) = &checked {
            ui.label(RichText::new(problem).small().color(theme::MUTED));
        }
        ui.horizontal(|ui| {
            if ui
                .add_enabled(checked.is_ok(), egui::Button::new("Send report"))
                .clicked()
                && let Ok(report) = checked
            {
                intents.push(Intent::SendReport {
                    report: Box::new(report),
                    attach_logs: form.attach_logs,
                });
                close = true;
            }
            if ui.button("Cancel").clicked() {
                close = true;
            }
        });
    });
    if close || modal.should_close() {
        state.report = None;
    }
}

/// `local`: the built-in server runs now; the form is the way to a real one.
fn signin_dialog_ui(
    ctx: &egui::Context,
    state: &mut UiState,
    local: bool,
    intents: &mut Vec<Intent>,
) {
    let busy = state.signin_busy;
    let error = state.signin_error.clone();
    let Some(form) = state.signin.as_mut() else {
        return;
    };
    let mut close = false;
    if let Some(rx) = &form.picking {
        let answer = rx.lock().expect("picker lock").try_recv();
        match answer {
            Ok(Ok(Some(path))) => {
                form.certificate = path.display().to_string();
                form.picking = None;
            }
            Ok(Ok(None)) => form.picking = None,
            Ok(Err(e)) => {
                form.picker_error = Some(e);
                form.picking = None;
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
            Err(std::sync::mpsc::TryRecvError::Disconnected) => form.picking = None,
        }
    }
    let modal = egui::Modal::new(egui::Id::unique("signin")).show(ctx, |ui| {
        ui.set_max_width(440.0);
        if let Some(question) = form.question.clone() {
            match trust_question_ui(ui, &question, busy) {
                Some(true) => {
                    form.trusted = Some(question.presented);
                    form.question = None;
                    intents.push(Intent::SignIn(form.clone()));
                }
                Some(false) => form.question = None,
                None => {}
            }
            return;
        }
        if local {
            ui.heading("Use my organisation's server");
            ui.label(
                "Timecard now runs its built-in server: your time is kept on this computer \
                 only. Enter your organisation's server address (https://…), your username \
                 and your password to sign in there; cached time is then uploaded to it.",
            );
        } else {
            ui.heading("Sign in");
        }
        egui::Grid::new("signin-grid")
            .num_columns(2)
            .show(ui, |ui| {
                ui.label("Server");
                let field = ui.add(
                    egui::TextEdit::singleline(&mut form.server)
                        .hint_text("https://… (empty: built-in server)"),
                );
                if field.lost_focus() || form.provider.is_none() {
                    form.probe_provider(ui.ctx());
                }
                ui.end_row();
                ui.label("Username or e-mail");
                ui.add(egui::TextEdit::singleline(&mut form.login));
                ui.end_row();
                ui.label("Password");
                ui.add(egui::TextEdit::singleline(&mut form.password).password(true));
                ui.end_row();
                ui.label("Certificate file");
                ui.horizontal(|ui| {
                    ui.add(
                        egui::TextEdit::singleline(&mut form.certificate)
                            .hint_text("optional .pem file")
                            .desired_width(220.0),
                    );
                    if ui
                        .add_enabled(form.picking.is_none(), egui::Button::new("Choose…"))
                        .clicked()
                    {
                        form.picker_error = None;
                        form.picking = Some(pick_certificate(ui.ctx()));
                    }
                });
                ui.end_row();
                ui.label("");
                ui.add(certificate_hint(&form.certificate));
                ui.end_row();
                if let Some(error) = &form.picker_error {
                    ui.label("");
                    ui.add(egui::Label::new(RichText::new(error).small().color(theme::BAD)).wrap());
                    ui.end_row();
                }
            });
        if let Some(error) = &error {
            ui.label(RichText::new(error).color(theme::BAD));
        }
        // I5: while the browser signs in, where it went.
        let waiting = busy
            .then(|| state.signin_browser_url.lock().ok().and_then(|u| u.clone()))
            .flatten();
        if let Some(url) = &waiting {
            ui.label("Finish signing in in your browser, then come back here. If no browser opened, go to:");
            ui.horizontal(|ui| {
                ui.add(egui::Label::new(RichText::new(url).small().monospace()).truncate());
                if ui.button("Copy").clicked() {
                    ui.ctx().copy_text(url.clone());
                }
            });
        }
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    !busy,
                    egui::Button::new(if busy { "Signing in…" } else { "Sign in" }),
                )
                .clicked()
            {
                // A fingerprint trusted before is for the server it was
                // shown for: a new attempt asks again if it differs.
                form.trusted = None;
                intents.push(Intent::SignIn(form.clone()));
            }
            if ui.button("Cancel").clicked() {
                close = true;
            }
        });
        // I5: single sign-on through the system browser.
        if form.server.trim().starts_with("https://")
            && let Some(name) = form.provider_name()
        {
            let label = match &name {
                Some(name) => format!("Sign in with {name}"),
                None => "Sign in with the browser".to_owned(),
            };
            ui.separator();
            if ui
                .add_enabled(!busy, egui::Button::new(label))
                .on_hover_text(
                    "Opens your browser at the server's sign-in; come back here afterwards",
                )
                .clicked()
            {
                form.trusted = None;
                let mut browser = form.clone();
                browser.browser = true;
                intents.push(Intent::SignIn(browser));
            }
        }
    });
    if close || (modal.should_close() && !busy) {
        state.signin = None;
        state.signin_error = None;
    }
}

/// Y7: the server's certificate with its fingerprint to compare, and
/// *Trust* / *Cancel*. Returns `Some(true)` for Trust, `Some(false)` for
/// Cancel.
fn trust_question_ui(ui: &mut egui::Ui, question: &TrustQuestion, busy: bool) -> Option<bool> {
    let mut answer = None;
    ui.heading("Trust this server?");
    if let Some(previous) = question.previous {
        ui.add(
            egui::Label::new(
                RichText::new(format!(
                    "The certificate of {} changed since you trusted it (it was {previous}). \
                     Trust the new one only if your administrator says they replaced it.",
                    question.host
                ))
                .color(theme::BAD),
            )
            .wrap(),
        );
    } else {
        ui.add(
            egui::Label::new(format!(
                "{} has a certificate that no authority known to this computer vouches for. \
                 That is usual for an organisation's own server. Compare its fingerprint with \
                 the one your administrator gave you (the server prints it when it starts):",
                question.host
            ))
            .wrap(),
        );
    }
    ui.add_space(6.0);
    // 32 hex pairs in two lines of 16, easy to compare in halves.
    let text = question.presented.to_string();
    let pairs: Vec<&str> = text["SHA256:".len()..].split(':').collect();
    ui.add(
        egui::Label::new(
            RichText::new(format!(
                "SHA256:\n{}\n{}",
                pairs[..16].join(":"),
                pairs[16..].join(":")
            ))
            .monospace(),
        )
        .wrap_mode(egui::TextWrapMode::Extend),
    );
    ui.add_space(6.0);
    ui.label(
        RichText::new(
            "If they are the same, Timecard trusts exactly this certificate for this server \
             from now on, and refuses any other.",
        )
        .small()
        .color(theme::MUTED),
    );
    ui.horizontal(|ui| {
        if ui
            .add_enabled(
                !busy,
                egui::Button::new(if busy { "Signing in…" } else { "Trust" }),
            )
            .clicked()
        {
            answer = Some(true);
        }
        if ui.add_enabled(!busy, egui::Button::new("Cancel")).clicked() {
            answer = Some(false);
        }
    });
    answer
}

/// *Sign out of SERVER?* with *Sign out* / *Cancel*.
fn sign_out_dialog_ui(ctx: &egui::Context, state: &mut UiState, intents: &mut Vec<Intent>) {
    let server = state.edited.server.clone().unwrap_or_default();
    let mut close = false;
    let modal = egui::Modal::new(egui::Id::unique("signout")).show(ctx, |ui| {
        ui.set_max_width(420.0);
        ui.heading(format!("Sign out of {server}?"));
        ui.add(
            egui::Label::new(
                "Cached time stays on this computer and uploads after you sign in again.",
            )
            .wrap(),
        );
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            if ui.button("Sign out").clicked() {
                intents.push(Intent::SignOut);
                close = true;
            }
            if ui.button("Cancel").clicked() {
                close = true;
            }
        });
    });
    if close || modal.should_close() {
        state.confirm_sign_out = false;
    }
}

/// What *About Timecard* shows.
#[derive(Clone, Debug)]
pub struct About {
    pub version: &'static str,
    pub data_dir: String,
    pub server: String,
    /// Where screenshots come from, and why.
    pub screenshots: String,
    /// Where activity comes from, and why.
    pub activity: String,
}

/// *About Timecard*: version, where the data is, the server, the keyboard
/// shortcuts. Returns true when closed.
fn about_dialog_ui(ctx: &egui::Context, about: &About) -> bool {
    let mut close = false;
    let modal = egui::Modal::new(egui::Id::unique("about")).show(ctx, |ui| {
        ui.set_max_width(460.0);
        ui.heading("About Timecard");
        ui.label(format!("Timecard {}", about.version));
        ui.add_space(6.0);
        // Long facts (paths, the reasons for the sources) scroll in a small
        // window instead of pushing Close out of it.
        egui::ScrollArea::vertical()
            .max_height(180.0)
            .show(ui, |ui| {
                egui::Grid::new("about-facts")
                    .num_columns(2)
                    .spacing([12.0, 4.0])
                    .show(ui, |ui| {
                        ui.label("Data folder");
                        ui.add(egui::Label::new(&about.data_dir).wrap());
                        ui.end_row();
                        ui.label("Server");
                        ui.add(egui::Label::new(&about.server).wrap());
                        ui.end_row();
                        ui.label("Screenshots");
                        ui.add(egui::Label::new(&about.screenshots).wrap());
                        ui.end_row();
                        ui.label("Activity");
                        ui.add(egui::Label::new(&about.activity).wrap());
                        ui.end_row();
                    });
            });
        ui.add_space(6.0);
        ui.label(RichText::new("Keyboard shortcuts").strong());
        ui.label("Ctrl+Enter  Start or stop tracking");
        ui.label("Ctrl+M  Mini view");
        ui.add_space(6.0);
        if ui.button("Close").clicked() {
            close = true;
        }
    });
    close || modal.should_close()
}

/// Under the certificate field: what it is for, or whether the typed or
/// chosen path is a readable file.
fn certificate_hint(path: &str) -> egui::Label {
    let path = path.trim();
    let (text, colour) = if path.is_empty() {
        (
            "Usually not needed: a server with its own certificate asks you to compare its \
             fingerprint. Or choose the .pem file its administrator gave you."
                .to_owned(),
            theme::MUTED,
        )
    } else {
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => ("File found.".to_owned(), theme::MUTED),
            Ok(_) => (format!("{path} is not a file."), theme::BAD),
            Err(e) => (format!("Cannot read {path}: {e}"), theme::BAD),
        }
    };
    egui::Label::new(RichText::new(text).small().color(colour)).wrap()
}

/// Opens the desktop's file dialog for the certificate file on a thread of
/// its own (it waits for the person); the answer arrives on the receiver.
fn pick_certificate(ctx: &egui::Context) -> Picking {
    let (tx, rx) = std::sync::mpsc::channel();
    let ctx = ctx.clone();
    let spawned = std::thread::Builder::new()
        .name("timecard-choose-file".into())
        .spawn({
            let tx = tx.clone();
            move || {
                #[cfg(target_os = "linux")]
                let chosen = timecard_client::platform::file_chooser::open_file(
                    "The server's certificate",
                    "Certificates (PEM)",
                    &["*.pem", "*.crt", "*.cer"],
                );
                #[cfg(not(target_os = "linux"))]
                let chosen = Err("no file dialog here yet; type the file's path".to_owned());
                if let Err(e) = &chosen {
                    log::warn!("file dialog: {e}");
                }
                let _ = tx.send(chosen);
                ctx.request_repaint();
            }
        });
    if let Err(e) = spawned {
        let _ = tx.send(Err(format!("the file dialog could not be opened: {e}")));
    }
    std::sync::Arc::new(std::sync::Mutex::new(rx))
}
