//! The window (eframe/egui). The UI thread only draws and sends commands:
//! it keeps the worker's latest [`Snapshot`], collects what the user asked
//! for as [`Intent`]s while drawing, and carries them out after. It repaints
//! when the worker publishes a change and once a second while a timer shows.

mod cache;
mod contracts;
mod dialogs;
mod diary;
mod disputes;
mod manual;
mod mini;
mod notice;
mod settings;
mod status;
mod tasks;
pub mod theme;
mod tracker;
mod update;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::Duration;

use chrono::{DateTime, Utc};

use timecard_client::connect::SignInError;
use timecard_client::engine::Engine;
use timecard_client::platform::DataDir;
use timecard_client::settings::Settings;
use timecard_client::worker::{Command, Snapshot, SnapshotCell};
use timecard_core::clock::Clock;
use timecard_core::errln;

use tasks::{EngineRestart, Outcome};

pub use dialogs::{ReportForm, SignInForm, TrustQuestion};
pub use diary::DiaryState;
pub use mini::MINI_SIZE;

/// D9: the widest the Tracker, Contracts and Cache screens' content grows.
pub const READABLE_WIDTH: f32 = 960.0;

/// The screens of the main window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Tracker,
    Contracts,
    Cache,
    Diary,
    Settings,
}

impl View {
    pub const ALL: [View; 5] = [
        View::Tracker,
        View::Contracts,
        View::Diary,
        View::Cache,
        View::Settings,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Tracker => "Tracker",
            View::Contracts => "Contracts",
            View::Cache => "Cache",
            View::Diary => "Work Diary",
            View::Settings => "Settings",
        }
    }
}

/// What the user asked for while a frame was drawn.
pub enum Intent {
    /// Pass a command to the worker.
    Worker(Command),
    /// Save the edited settings (and apply what can be applied live).
    SaveSettings(Settings),
    /// Sign in with the form's values (on a background thread).
    SignIn(SignInForm),
    /// Load the Work Diary for the state's date and zone.
    LoadDiary,
    /// Open the sign-in form, filled in from the settings.
    OpenSignIn,
    /// Sign out of the configured server (cached time stays).
    SignOut,
    /// Open the data folder's log folder in the file manager.
    ShowLogFolder,
    /// Show *About Timecard* (version, data folder, server, shortcuts).
    ShowAbout,
    /// Open a web page (a dispute's day, R14) in the system browser.
    OpenInBrowser(String),
    /// Zip the logs into the export folder (D2).
    ExportLogs,
    /// Wipe the data folder and restart (D4), after the confirmation.
    ClearAndRestart,
    /// Download, check and install the offered update, then restart (U4).
    InstallUpdate,
    /// Queue a problem report (D3) and send it, zipping the logs first if asked.
    SendReport {
        report: Box<timecard_core::protocol::ProblemReport>,
        attach_logs: bool,
    },
}

/// Everything the UI remembers between frames that is not the snapshot.
pub struct UiState {
    pub view: View,
    /// The contract chosen in the picker.
    pub selected: Option<String>,
    pub memo: String,
    pub mini: bool,
    pub reset_dialog: bool,
    /// *Clear cache and restart* is under way (the dialog shows progress).
    pub clearing: bool,
    /// Why the last *Clear cache and restart* did not happen.
    pub reset_error: Option<String>,
    pub report: Option<ReportForm>,
    pub signin: Option<SignInForm>,
    pub signin_busy: bool,
    pub signin_error: Option<String>,
    /// Y7: filled by a sign-in that met an untrusted certificate, for the
    /// form to ask whether to trust it.
    pub signin_question: Arc<std::sync::Mutex<Option<dialogs::TrustQuestion>>>,
    /// I5: the address a browser sign-in opened, shown while it waits (for
    /// when no browser opened).
    pub signin_browser_url: Arc<std::sync::Mutex<Option<String>>>,
    /// The *Sign out?* confirmation is open.
    pub confirm_sign_out: bool,
    pub diary: DiaryState,
    /// The settings as edited on the Settings screen.
    pub edited: Settings,
    pub export_dir: String,
    /// The last screenshot's thumbnail as a texture, with its time.
    pub thumbnail: Option<(DateTime<Utc>, egui::TextureHandle)>,
    /// The message toast: which is shown, which was closed.
    pub notice: notice::NoticeState,
    /// *About Timecard*, while open.
    pub about: Option<dialogs::About>,
    /// Who is signed in (the server's login), `None` when signed out.
    pub account: Option<String>,
    /// What the engine restart under way is for, to say when it is done.
    pub restarting_for: Option<Restart>,
    /// Why the last change of *Start Timecard when I sign in* failed.
    pub autostart_error: Option<String>,
    /// Updates from the server: the offer, and the work under way.
    pub update: update::UpdateState,
    /// *Add time by hand* (R8), while its form is open.
    pub manual: Option<manual::ManualForm>,
    /// Whether a tray host shows Timecard's icon now (D8).
    pub tray_host: bool,
}

/// Why the engine restarts: said in a notice once it is back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    SignIn,
    SignOut,
}

/// The app.
pub struct TimecardApp {
    engine: Option<Engine>,
    commands: Sender<Command>,
    snapshots: Arc<SnapshotCell>,
    snapshot: Arc<Snapshot>,
    clock: Arc<dyn Clock>,
    data: DataDir,
    settings: Settings,
    pub state: UiState,
    /// Background work under way (sign-in, restarts, files, clearing).
    tasks: tasks::Tasks,
    first_frame_done: bool,
    /// Whether start-up's code has been given back
    /// ([`timecard_core::process::release_startup_code`]).
    startup_code_released: bool,
    /// The single-instance lock (D1), let go just before a restart.
    instance: Option<timecard_client::platform::instance::InstanceGuard>,
    /// The notifications setting, live (D5); `None` sends none (tests).
    notify: Option<Arc<AtomicBool>>,
    /// The tray icon (D8); `None` in tests and where there is none.
    tray: Option<crate::tray::Tray>,
}

impl TimecardApp {
    /// Wraps a running engine; the worker wakes `ctx` on every change.
    pub fn new(engine: Engine, data: DataDir, settings: Settings, ctx: &egui::Context) -> Self {
        theme::apply(ctx);
        wake_on_change(ctx, engine.worker.snapshots());
        let zone = settings.zone();
        let now = engine.clock.now();
        let export_dir = directories::UserDirs::new()
            .map(|d| d.home_dir().join("timecard-export"))
            .unwrap_or_else(|| data.root().join("export"))
            .display()
            .to_string();
        let engine_login = engine.connection.login.clone();
        TimecardApp {
            commands: engine.worker.sender(),
            snapshots: engine.worker.snapshots().clone(),
            snapshot: engine.worker.snapshot(),
            clock: engine.clock.clone(),
            engine: Some(engine),
            data,
            state: UiState {
                view: View::Tracker,
                selected: None,
                memo: String::new(),
                mini: false,
                reset_dialog: false,
                clearing: false,
                reset_error: None,
                autostart_error: None,
                report: None,
                signin: None,
                signin_busy: false,
                signin_error: None,
                signin_question: Default::default(),
                signin_browser_url: Default::default(),
                confirm_sign_out: false,
                diary: DiaryState::new(zone, now),
                edited: settings.clone(),
                export_dir,
                thumbnail: None,
                notice: Default::default(),
                about: None,
                account: engine_login.clone(),
                restarting_for: None,
                update: update::UpdateState::new(),
                manual: None,
                tray_host: false,
            },
            settings,
            tasks: tasks::Tasks::default(),
            first_frame_done: false,
            startup_code_released: false,
            instance: None,
            notify: None,
            tray: None,
        }
    }

    /// Sends desktop notifications (D5) while the setting is on.
    pub fn enable_notifications(&mut self) {
        let enabled = Arc::new(AtomicBool::new(self.settings.notifications));
        if let Some(engine) = self.engine.as_mut() {
            crate::notify::attach(
                engine,
                enabled.clone(),
                Some(self.data.disputes_told_file()),
            );
        }
        self.notify = Some(enabled);
    }

    /// Puts up the tray icon (D8), where the desktop has a tray.
    pub fn enable_tray(&mut self, ctx: &egui::Context) {
        self.tray = crate::tray::Tray::start(
            ctx,
            self.snapshots.clone(),
            self.commands.clone(),
            self.clock.clone(),
            self.settings.zone(),
        );
    }

    /// What the tray's menu asked of the window; the window's contract
    /// choice and zone to the tray.
    fn tray_ui(&mut self) {
        let Some(tray) = &self.tray else { return };
        self.state.tray_host = tray.host_present();
        for action in tray.actions() {
            match action {
                crate::tray::TrayAction::Chose(id) => self.state.selected = Some(id),
                crate::tray::TrayAction::MiniView => self.state.mini = true,
            }
        }
        tray.choose(self.state.selected.as_deref(), self.settings.zone());
    }

    /// Closing the window (D8): with a tray host and the setting on, the
    /// window hides and tracking goes on; the first time, a notification
    /// says where Timecard went. Quit (the tray's menu, a signal, an
    /// update) closes for real.
    fn close_to_tray(&mut self, ctx: &egui::Context) {
        let asked = ctx.input(|i| i.viewport().close_requested());
        let host = self.tray.as_ref().is_some_and(|t| t.host_present());
        if !asked || QUITTING.load(Ordering::Relaxed) || !host || !self.settings.close_to_tray {
            return;
        }
        if !can_hide_window() {
            return;
        }
        log::info!("window closed: Timecard keeps running in the tray");
        ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
        ctx.send_viewport_cmd(egui::ViewportCommand::Visible(false));
        HIDDEN_TO_TRAY.store(true, Ordering::Relaxed);
        if !self.settings.tray_notice_shown {
            self.settings.tray_notice_shown = true;
            self.state.edited.tray_notice_shown = true;
            crate::notify::send(crate::notify::Alert::new(
                "Timecard is still running",
                "Timecard keeps running in the tray; quit from its menu.",
            ));
            let (path, settings) = (self.data.settings_file(), self.settings.clone());
            self.tasks.spawn(ctx, "Saving settings", move || {
                if let Err(e) = settings.save(&path) {
                    log::warn!("{e}");
                }
                Outcome::Quiet
            });
        }
    }

    /// Holds the single-instance lock; a second launch brings this window
    /// forward (D1).
    pub fn hold_instance(
        &mut self,
        guard: timecard_client::platform::instance::InstanceGuard,
        ctx: &egui::Context,
    ) {
        let showing = ctx.clone();
        guard.on_show(move || {
            showing.send_viewport_cmd(egui::ViewportCommand::Visible(true));
            showing.send_viewport_cmd(egui::ViewportCommand::Minimized(false));
            showing.send_viewport_cmd(egui::ViewportCommand::Focus);
            showing.request_repaint();
        });
        // A newer version was launched: cache the partial segment (on
        // exit) and quit, so that it takes over (U5).
        let closing = ctx.clone();
        guard.on_handover(move || {
            log::info!("a newer version takes over: closing");
            quit(&closing);
        });
        let (asked, waking) = (self.state.update.asked.clone(), ctx.clone());
        guard.on_update(move || {
            asked.store(true, Ordering::Relaxed);
            waking.request_repaint();
        });
        // `timecard status` asks what this window is doing.
        let (snapshots, clock, zone) = (
            self.snapshots.clone(),
            self.clock.clone(),
            self.settings.zone(),
        );
        guard.on_state(move || {
            timecard_client::running::RunningState::of(&snapshots.latest(), clock.now(), zone)
                .to_line()
        });
        self.instance = Some(guard);
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The worker's latest snapshot (which the next frame will show).
    pub fn latest(&self) -> Arc<Snapshot> {
        self.snapshots.latest()
    }

    /// Waits up to `timeout` for the worker to publish something newer
    /// than what is on screen (tests use this instead of sleeping).
    pub fn wait_for_worker(&self, timeout: Duration) {
        self.snapshots.wait_newer(self.snapshot.generation, timeout);
    }

    /// The data folder this window works on.
    pub fn data_dir(&self) -> &DataDir {
        &self.data
    }

    /// The running engine (absent while it restarts).
    pub fn engine(&self) -> Option<&Engine> {
        self.engine.as_ref()
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// Carries out what the frame asked for.
    fn run(&mut self, intents: Vec<Intent>, ctx: &egui::Context) {
        for intent in intents {
            match intent {
                Intent::Worker(command) => self.send(command),
                Intent::LoadDiary => {
                    let reply = self.state.diary.ask(ctx);
                    self.send(Command::LoadDiary {
                        date: self.state.diary.date,
                        tz: self.state.diary.zone.name().to_owned(),
                        reply,
                    })
                }
                Intent::SaveSettings(settings) => {
                    self.send(Command::SetPolicy(settings.policy()));
                    self.send(Command::SetIdleThreshold(settings.idle_threshold_secs()));
                    if let Some(enabled) = &self.notify {
                        enabled.store(settings.notifications, Ordering::Relaxed);
                    }
                    let path = self.data.settings_file();
                    let to_save = settings.clone();
                    // Settings are small, but no file is written on the UI thread.
                    self.tasks.spawn(ctx, "Saving settings", move || {
                        Outcome::Notice(match to_save.save(&path) {
                            Ok(()) => "Settings saved.".to_owned(),
                            Err(e) => format!("Settings were not saved: {e}"),
                        })
                    });
                    let server_changed = settings.server != self.settings.server
                        || settings.server_ca != self.settings.server_ca;
                    self.settings = settings;
                    if server_changed {
                        self.restart_engine(ctx, "Connecting to the new server");
                    }
                }
                Intent::SignIn(form) => self.sign_in(form, ctx),
                Intent::SignOut => self.sign_out(ctx),
                Intent::OpenSignIn => {
                    self.state.signin =
                        Some(SignInForm::from_settings(&self.settings).remembered(&self.data))
                }
                Intent::ExportLogs => {
                    let dir = self.data.logs_dir();
                    let out = std::path::PathBuf::from(&self.state.export_dir).with_file_name(
                        format!("timecard-logs-{}.zip", self.now().format("%Y%m%d-%H%M%S")),
                    );
                    self.tasks.spawn(ctx, "Exporting the logs", move || {
                        Outcome::Notice(match crate::logging::export_zip(&dir, &out) {
                            Ok(n) => format!(
                                "{} exported to {}",
                                timecard_core::fmt::count(n as u64, "log file", "log files"),
                                out.display()
                            ),
                            Err(e) => format!("The logs were not exported: {e}"),
                        })
                    });
                }
                Intent::SendReport {
                    mut report,
                    attach_logs,
                } => {
                    let (dir, commands) = (self.data.logs_dir(), self.commands.clone());
                    self.tasks.spawn(ctx, "Preparing the report", move || {
                        if attach_logs {
                            match crate::logging::zip_bytes(&dir) {
                                Ok(zip) => report.attach_logs(&zip),
                                Err(e) => log::warn!("report sent without logs: {e}"),
                            }
                        }
                        // The worker says whether it was sent or queued.
                        let _ = commands.send(Command::SendReport(report));
                        Outcome::Quiet
                    });
                }
                Intent::ShowLogFolder => {
                    let dir = self.data.logs_dir();
                    let _ = std::fs::create_dir_all(&dir);
                    // The path is said either way: where no file manager
                    // answers, the user still knows where to look.
                    let shown = dir.clone();
                    self.tasks.spawn(ctx, "Opening the log folder", move || {
                        let opened = std::process::Command::new("xdg-open")
                            .arg(&shown)
                            .stdin(std::process::Stdio::null())
                            .stdout(std::process::Stdio::null())
                            .stderr(std::process::Stdio::null())
                            .status()
                            .is_ok_and(|s| s.success());
                        Outcome::Notice(if opened {
                            format!("The logs are in {}", shown.display())
                        } else {
                            format!(
                                "No file manager could be opened; the logs are in {}",
                                shown.display()
                            )
                        })
                    });
                }
                Intent::ShowAbout => {
                    self.state.about = Some(dialogs::About {
                        version: timecard_core::release::version(),
                        data_dir: self.data.root().display().to_string(),
                        server: match &self.settings.server {
                            Some(url) => url.clone(),
                            None => "none: the built-in local server (this computer only)".into(),
                        },
                        screenshots: settings::session_sources().0.clone(),
                        activity: settings::session_sources().1.clone(),
                    });
                }
                Intent::OpenInBrowser(url) => {
                    self.tasks.spawn(ctx, "Opening the browser", move || {
                        match crate::disputes::open_in_browser(&url) {
                            Ok(()) => Outcome::Quiet,
                            Err(why) => Outcome::Notice(why),
                        }
                    });
                }
                Intent::ClearAndRestart => self.clear_and_restart(ctx),
                Intent::InstallUpdate => self.download_update(ctx),
            }
        }
    }
}

impl TimecardApp {
    /// Signs in on a background thread; on success the settings and session
    /// are saved and the engine restarts against the new server.
    fn sign_in(&mut self, form: SignInForm, ctx: &egui::Context) {
        let data = self.data.clone();
        let clock = self.clock.clone();
        self.state.restarting_for = Some(Restart::SignIn);
        let question = self.state.signin_question.clone();
        let shown = self.state.signin_browser_url.clone();
        if let Ok(mut shown) = shown.lock() {
            *shown = None;
        }
        let repaint = ctx.clone();
        self.restart_engine_after(ctx, "Signing in", move |settings| {
            let mut target = form.target();
            // I5: the browser's part first (up to five minutes); the old
            // engine goes on tracking meanwhile.
            if form.browser
                && let timecard_client::connect::SignInTo::Server {
                    address,
                    browser_code,
                    ..
                } = &mut target
            {
                let parsed = timecard_client::sync::ServerAddress::parse(address)
                    .map_err(|e| e.to_string())?;
                *browser_code = Some(timecard_client::browser_sign_in::browser_code(
                    &parsed,
                    Some(&form.trust()),
                    |name, url| {
                        log::info!("signing in with {name} in the browser at {url}");
                        if let Ok(mut shown) = shown.lock() {
                            *shown = Some(url.to_owned());
                        }
                        repaint.request_repaint();
                    },
                    crate::disputes::open_in_browser,
                    timecard_client::browser_sign_in::WAIT,
                )?);
            }
            let signed_in = timecard_client::connect::sign_in(&data, settings, target, clock)
                .map_err(|e| question_or_words(e, &question))?;
            if let Some(skew) = signed_in.clock_skew_secs {
                log::warn!("this computer's clock differs from the server's by {skew} s");
            }
            Ok(())
        });
    }

    /// Signs out (the server is told on a background thread) and restarts
    /// the engine without a session: it then says "Signed out".
    fn sign_out(&mut self, ctx: &egui::Context) {
        let data = self.data.clone();
        let clock = self.clock.clone();
        self.state.restarting_for = Some(Restart::SignOut);
        self.restart_engine_after(ctx, "Signing out", move |settings| {
            if let Some(warning) = timecard_client::connect::sign_out(&data, settings, clock) {
                log::warn!("{warning}");
            }
            Ok(())
        });
    }

    /// Restarts the engine with the current settings, as the task `name`.
    fn restart_engine(&mut self, ctx: &egui::Context, name: &'static str) {
        self.restart_engine_after(ctx, name, |_| Ok(()));
    }

    /// On a background thread: runs `prepare` on a copy of the settings,
    /// then stops the old engine and starts a new one with them.
    fn restart_engine_after(
        &mut self,
        ctx: &egui::Context,
        name: &'static str,
        prepare: impl FnOnce(&mut Settings) -> Result<(), String> + Send + 'static,
    ) {
        self.state.signin_busy = true;
        self.state.signin_error = None;
        let (data, mut settings, clock) =
            (self.data.clone(), self.settings.clone(), self.clock.clone());
        let old = self.engine.take();
        self.tasks.spawn(ctx, name, move || {
            Outcome::Engine(Box::new(match prepare(&mut settings) {
                // The old engine goes on as it was.
                Err(message) => Err((message, old)),
                Ok(()) => {
                    if let Some(old) = old {
                        old.shutdown_keeping_time(std::time::Duration::from_secs(5));
                    }
                    Engine::start(
                        &data,
                        &settings,
                        clock,
                        screen_source(&settings),
                        activity_source(),
                        crate::builtin::local_server(),
                    )
                    .map(|engine| (engine, settings))
                    .map_err(|e| (format!("{e:#}"), None))
                }
            }))
        });
    }

    /// Asks the server for a newer release (at start, daily, and when
    /// `timecard update` asks), on a background thread.
    fn check_for_update(&mut self, ctx: &egui::Context) {
        let Some(installed) = self.state.update.installed.clone() else {
            return;
        };
        self.state.update.busy = true;
        self.state.update.checked_at = Some(std::time::Instant::now());
        let (data, settings, clock) =
            (self.data.clone(), self.settings.clone(), self.clock.clone());
        self.tasks.spawn(ctx, "Checking for updates", move || {
            Outcome::UpdateChecked(
                timecard_client::update::Updater::new(&data, &settings, clock, installed)
                    .and_then(|updater| updater.check())
                    .map_err(|e| e.to_string()),
            )
        });
    }

    fn update_checked(
        &mut self,
        result: Result<timecard_client::update::Check, String>,
        ctx: &egui::Context,
    ) {
        use timecard_client::update::Check;
        self.state.update.busy = false;
        match result {
            Ok(Check::Available(offer)) => {
                log::info!(
                    "version {} is available (key {})",
                    offer.release.version,
                    offer.key_fingerprint
                );
                if offer.pinned_now {
                    self.send(Command::Notice(format!(
                        "Updates from this server are now trusted when signed by key {}.",
                        offer.key_fingerprint
                    )));
                }
                self.state.update.problem = None;
                self.state.update.offer = Some(*offer);
                if std::mem::take(&mut self.state.update.install_when_offered) {
                    self.download_update(ctx);
                }
            }
            Ok(Check::UpToDate { offered }) => {
                log::info!(
                    "no update: the server offers {}",
                    offered.as_deref().unwrap_or("nothing")
                );
                self.state.update.offer = None;
                if std::mem::take(&mut self.state.update.install_when_offered) {
                    self.send(Command::Notice(format!(
                        "Timecard {} is the newest version this server offers.",
                        timecard_core::release::version()
                    )));
                }
            }
            Err(problem) => {
                log::warn!("update check: {problem}");
                if std::mem::take(&mut self.state.update.install_when_offered)
                    || problem.contains("refused")
                {
                    self.send(Command::Notice(format!("No update: {problem}")));
                }
                self.state.update.problem = Some(problem);
            }
        }
    }

    /// Downloads and checks the offered update while tracking goes on.
    fn download_update(&mut self, ctx: &egui::Context) {
        let (Some(offer), Some(installed)) = (
            self.state.update.offer.clone(),
            self.state.update.installed.clone(),
        ) else {
            return;
        };
        self.state.update.busy = true;
        let (data, settings, clock) =
            (self.data.clone(), self.settings.clone(), self.clock.clone());
        let name = format!("Downloading version {}", offer.release.version);
        self.tasks.spawn(ctx, name, move || {
            Outcome::UpdateDownloaded(
                timecard_client::update::Updater::new(&data, &settings, clock, installed)
                    .and_then(|updater| updater.download(&offer))
                    .map_err(|e| e.to_string()),
            )
        });
    }

    /// With the update downloaded and checked: stops tracking (the partial
    /// segment is cached), uploads what it can, stops the engine and
    /// installs.
    fn install_update(&mut self, result: Result<std::path::PathBuf, String>, ctx: &egui::Context) {
        let file = match result {
            Ok(file) => file,
            Err(problem) => {
                self.state.update.busy = false;
                self.send(Command::Notice(format!(
                    "The update was not installed: {problem}"
                )));
                self.state.update.problem = Some(problem);
                return;
            }
        };
        let Some(installed) = self.state.update.installed.clone() else {
            return;
        };
        let was_tracking = self
            .snapshot
            .tracking
            .as_ref()
            .map(|t| t.contract_id.clone());
        let engine = self.engine.take();
        self.tasks.spawn(ctx, "Installing the update", move || {
            if let Some(engine) = engine {
                engine.worker.send(Command::Stop);
                let flushed = engine.flush(Duration::from_secs(30));
                log::info!(
                    "before the update: {} still cached",
                    timecard_core::fmt::count(
                        flushed.cache.pending_segments as u64,
                        "segment",
                        "segments"
                    )
                );
                engine.shutdown_keeping_time(Duration::from_secs(10));
            }
            Outcome::Updated(Box::new(
                timecard_client::update::install(&installed, &file)
                    .map(|installing| (installing, installed.exe.clone()))
                    .map_err(|e| (e.to_string(), was_tracking)),
            ))
        });
    }

    /// Starts the new version and quits, or says why not and goes on.
    fn updated(&mut self, result: tasks::UpdateResult, ctx: &egui::Context) {
        use timecard_client::update::Installing;
        match result {
            Ok((installing, exe)) => {
                log::info!("update installed; starting the new version");
                // The new process must be able to take the lock.
                drop(self.instance.take());
                if installing == Installing::Done
                    && let Err(e) = timecard_client::update::relaunch(&exe, &[])
                {
                    log::error!("the new version did not start: {e}");
                }
                quit(ctx);
            }
            Err((problem, was_tracking)) => {
                log::error!("the update was not installed: {problem}");
                self.state.update.busy = false;
                self.state.update.problem = Some(problem.clone());
                self.send(Command::Notice(format!(
                    "The update was not installed: {problem}. Timecard goes on with version {}.",
                    timecard_core::release::version()
                )));
                self.state.update.resume = was_tracking;
                self.restart_engine(ctx, "Starting again");
            }
        }
    }

    /// *Clear cache and restart* (D4), after the confirmation: stops the
    /// engine (tracking stops, the partial segment is cached) and wipes the
    /// data folder on a background thread while the dialog shows progress;
    /// then a new copy of the app starts. If the folder cannot be cleared,
    /// nothing was deleted: the engine starts again on it and the dialog
    /// says why.
    fn clear_and_restart(&mut self, ctx: &egui::Context) {
        if self.state.clearing {
            return;
        }
        self.state.clearing = true;
        self.state.reset_error = None;
        let engine = self.engine.take();
        let data = self.data.clone();
        let export = std::path::PathBuf::from(&self.state.export_dir);
        self.tasks.spawn(ctx, "Clearing the data folder", move || {
            if let Some(engine) = engine {
                engine.shutdown();
            }
            log::info!("clear cache and restart: wiping the data folder");
            Outcome::Cleared(
                timecard_client::platform::reset::wipe(&data, Some(&export))
                    .map_err(|e| e.to_string()),
            )
        });
    }

    /// Hands each finished background task's outcome to where it belongs.
    fn poll_tasks(&mut self, ctx: &egui::Context) {
        for (name, outcome) in self.tasks.finished() {
            match outcome {
                Outcome::Quiet => {}
                Outcome::Notice(text) => {
                    log::info!("{name}: {text}");
                    self.send(Command::Notice(text));
                }
                Outcome::Engine(result) => self.engine_restarted(*result, ctx),
                Outcome::Cleared(Ok(())) => {
                    // The new process must be able to take the lock.
                    drop(self.instance.take());
                    timecard_client::platform::reset::relaunch();
                    quit(ctx);
                }
                Outcome::UpdateChecked(result) => self.update_checked(result, ctx),
                Outcome::UpdateDownloaded(result) => self.install_update(result, ctx),
                Outcome::Updated(result) => self.updated(*result, ctx),
                Outcome::Cleared(Err(e)) => {
                    log::error!("the data folder was not cleared: {e}");
                    self.state.clearing = false;
                    self.state.reset_dialog = true;
                    self.state.reset_error = Some(format!(
                        "The data folder could not be cleared ({e}). Nothing was deleted; \
                         Timecard goes on with it."
                    ));
                    self.restart_engine(ctx, "Starting again");
                }
            }
        }
    }

    /// Takes up a new engine after a sign-in or restart, or says why not.
    fn engine_restarted(&mut self, result: EngineRestart, ctx: &egui::Context) {
        self.state.signin_busy = false;
        match result {
            Ok((mut engine, settings)) => {
                if let Some(enabled) = &self.notify {
                    let told = Some(self.data.disputes_told_file());
                    crate::notify::attach(&mut engine, enabled.clone(), told);
                }
                wake_on_change(ctx, engine.worker.snapshots());
                if let Some(tray) = &self.tray {
                    tray.follow(engine.worker.snapshots().clone(), engine.worker.sender());
                }
                self.commands = engine.worker.sender();
                self.snapshots = engine.worker.snapshots().clone();
                self.snapshot = engine.worker.snapshot();
                self.state.edited = settings.clone();
                self.state.account = engine.connection.login.clone();
                let server = settings.server.clone().unwrap_or_default();
                let notice = match (self.state.restarting_for.take(), &self.state.account) {
                    (Some(Restart::SignIn), Some(login)) if settings.server.is_some() => {
                        Some(format!("Signed in to {server} as {login}."))
                    }
                    (Some(Restart::SignIn), _) => {
                        Some("Using the built-in local server: time stays on this computer.".into())
                    }
                    (Some(Restart::SignOut), _) => Some(format!(
                        "Signed out of {server}. Cached time stays here and uploads after the next sign-in."
                    )),
                    (None, _) => None,
                };
                if let Some(notice) = notice {
                    let _ = engine.worker.sender().send(Command::Notice(notice));
                }
                // After an update that failed: tracking goes on.
                if let Some(contract_id) = self.state.update.resume.take() {
                    let _ = engine.worker.sender().send(Command::Start { contract_id });
                }
                self.engine = Some(engine);
                self.settings = settings;
                self.state.signin = None;
            }
            Err((message, old)) => {
                self.state.restarting_for = None;
                if old.is_some() {
                    self.engine = old;
                }
                self.state.signin_error = Some(message);
                let asked = self
                    .state
                    .signin_question
                    .lock()
                    .expect("question lock")
                    .take();
                if let (Some(asked), Some(form)) = (asked, self.state.signin.as_mut()) {
                    form.question = Some(asked);
                    self.state.signin_error = None;
                }
            }
        }
    }

    /// Draws the whole window into `ui` and returns what the user asked for.
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) -> Vec<Intent> {
        let ctx = ui.ctx().clone();
        self.poll_tasks(&ctx);
        self.tray_ui();
        self.snapshot = self.snapshots.latest();
        self.state.diary.receive();
        let now = self.now();
        let mut intents = Vec::new();
        shortcuts(&ctx, &self.snapshot, &mut self.state, &mut intents);
        egui::Panel::top("menu").show(ui, |ui| {
            menu_ui(
                ui,
                &self.snapshot,
                &mut self.state,
                now,
                self.settings.zone(),
                &mut intents,
            );
        });
        egui::Panel::bottom("status").show(ui, |ui| {
            ui.horizontal(|ui| {
                tasks::running_ui(ui, &self.tasks);
                status::status_bar_ui(ui, &self.snapshot, now, self.settings.zone());
            });
        });
        if self.settings.server.is_some() && self.state.update.check_due() {
            self.check_for_update(&ctx);
        }
        egui::CentralPanel::default_margins().show(ui, |ui| {
            update::banner_ui(ui, &self.state.update, &mut intents);
            status::banners_ui(ui, &self.snapshot, now, self.settings.zone(), &mut intents);
            let zone = self.settings.zone();
            if self.state.view == View::Diary {
                // Its day and zone controls stay in view; it scrolls its grid.
                diary::diary_ui(ui, &self.snapshot, &mut self.state.diary, now, &mut intents);
                return;
            }
            // D9: the scroll area fills the panel whatever the screen's
            // width, so its bar is at the window's edge, not after the
            // content (a 500 px column after sign-out).
            // Lines of text and bars stop at a readable width on wide
            // windows; Settings take two columns there instead.
            egui::ScrollArea::vertical()
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    if self.state.view != View::Settings {
                        ui.set_max_width(ui.available_width().min(READABLE_WIDTH));
                    }
                    match self.state.view {
                        View::Tracker => tracker::tracker_ui(
                            ui,
                            &self.snapshot,
                            &mut self.state,
                            now,
                            zone,
                            &mut intents,
                        ),
                        View::Contracts => contracts::contracts_ui(
                            ui,
                            &self.snapshot,
                            &mut self.state.manual,
                            now,
                            zone,
                            &mut intents,
                        ),
                        View::Cache => cache::cache_ui(
                            ui,
                            &self.snapshot,
                            &mut self.state,
                            now,
                            zone,
                            &mut intents,
                        ),
                        View::Diary => {} // drawn above
                        View::Settings => settings::settings_ui(ui, &mut self.state, &mut intents),
                    }
                });
        });
        dialogs::dialogs_ui(
            &ctx,
            &self.snapshot,
            &mut self.state,
            now,
            self.settings.zone(),
            self.settings.server.is_none(),
            &mut intents,
        );
        manual::manual_ui(
            &ctx,
            &mut self.state.manual,
            self.settings.zone(),
            &mut intents,
        );
        notice::notice_ui(&ctx, &self.snapshot, &mut self.state.notice, now);
        if self.state.mini {
            mini::mini_view(
                &ctx,
                &self.snapshot,
                &mut self.state,
                now,
                self.settings.zone(),
                &mut intents,
            );
        }
        if !self.first_frame_done {
            self.first_frame_done = true;
            if std::env::var_os("TIMECARD_REPORT_STARTUP").is_some() {
                errln!(
                    "timecard: first frame {} ms after launch",
                    timecard_core::process::since_process_start().as_millis()
                );
            }
        }
        // Once start-up is over (the window up, the cache and the built-in
        // server open, the first sync done), the code only it ran is
        // given back: about 1 MB resident for the life of the window.
        if !self.startup_code_released {
            let settled = Duration::from_secs(10);
            let since = timecard_core::process::since_process_start();
            if since >= settled {
                self.startup_code_released = true;
                let bytes = timecard_core::process::release_startup_code();
                log::debug!("start-up over: {bytes} bytes of code pages given back");
            } else {
                ctx.request_repaint_after(settled - since);
            }
        }
        // A running timer needs a repaint each second; nothing else does.
        if self.snapshot.tracking.is_some() {
            ctx.request_repaint_after(Duration::from_secs(1));
        }
        intents
    }
}

impl eframe::App for TimecardApp {
    /// Runs every pass, also while the window is hidden or occluded (when
    /// `ui` is not called): a close request is seen here.
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.close_to_tray(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let intents = self.frame_ui(ui);
        let ctx = ui.ctx().clone();
        self.run(intents, &ctx);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        // Stop tracking cleanly: the partial segment is cached.
        if let Some(engine) = self.engine.take() {
            engine.shutdown_keeping_time(std::time::Duration::from_secs(10));
        }
    }
}

/// Repaints `ctx` on every snapshot `cell` publishes, and brings the
/// window forward (shown, restored, focused, asking for attention) when the
/// user comes back from an idle period, so the question is in front of
/// them (S5) — also when the window was minimised or closed to the tray,
/// where no frame runs to notice it.
fn wake_on_change(ctx: &egui::Context, cell: &Arc<SnapshotCell>) {
    let (waker, weak) = (ctx.clone(), Arc::downgrade(cell));
    // The idle period last brought forward, by its start (Unix seconds).
    let raised_for = std::sync::atomic::AtomicI64::new(i64::MIN);
    cell.set_waker(move || {
        if let Some(cell) = weak.upgrade()
            && let Some(idle) = &cell.latest().idle
            && idle.returned.is_some()
            && raised_for.swap(idle.since.timestamp(), Ordering::Relaxed) != idle.since.timestamp()
        {
            log::info!("back from idle: bringing the window forward");
            bring_forward(&waker);
            waker.send_viewport_cmd(egui::ViewportCommand::RequestUserAttention(
                egui::UserAttentionType::Informational,
            ));
        }
        waker.request_repaint();
        crate::tray::poke();
    });
}

/// Shows the main window, restored and focused.
pub fn bring_forward(ctx: &egui::Context) {
    ctx.send_viewport_cmd(egui::ViewportCommand::Visible(true));
    ctx.send_viewport_cmd(egui::ViewportCommand::Minimized(false));
    ctx.send_viewport_cmd(egui::ViewportCommand::Focus);
    ctx.request_repaint();
}

/// Set once the app is to end for real: closing then no longer hides the
/// window to the tray (D8).
static QUITTING: AtomicBool = AtomicBool::new(false);

/// Set while the window is hidden to the tray; the tray's thread shows it
/// again should the tray host go away (D8), since no frame runs meanwhile.
pub static HIDDEN_TO_TRAY: AtomicBool = AtomicBool::new(false);

/// Closes the app the normal way (the partial segment is cached on exit),
/// even with close-to-tray on: the tray's Quit, signals, updates, restarts.
pub fn quit(ctx: &egui::Context) {
    QUITTING.store(true, Ordering::Relaxed);
    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
}

/// Whether this session lets a program hide its window: X11 and Windows
/// do; a Wayland compositor does not (winit cannot unmap an xdg-shell
/// window), so there closing the window quits as before (D8).
pub fn can_hide_window() -> bool {
    cfg!(windows) || std::env::var_os("WAYLAND_DISPLAY").is_none_or(|d| d.is_empty())
}

/// Start/Stop and the mini view from the keyboard.
fn shortcuts(
    ctx: &egui::Context,
    snapshot: &Snapshot,
    state: &mut UiState,
    intents: &mut Vec<Intent>,
) {
    let start_stop = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::Enter);
    let mini = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::M);
    if ctx.input_mut(|i| i.consume_shortcut(&start_stop))
        && let Some(command) = tracker::start_stop_command(snapshot, state)
    {
        intents.push(Intent::Worker(command));
    }
    if ctx.input_mut(|i| i.consume_shortcut(&mini)) {
        state.mini = !state.mini;
    }
}

fn menu_ui(
    ui: &mut egui::Ui,
    snapshot: &Snapshot,
    state: &mut UiState,
    now: DateTime<Utc>,
    zone: chrono_tz::Tz,
    intents: &mut Vec<Intent>,
) {
    // Wraps onto a second line in a narrow window, so Help stays reachable.
    ui.horizontal_wrapped(|ui| {
        for view in View::ALL {
            if ui
                .selectable_label(state.view == view, view.title())
                .clicked()
            {
                if view == View::Diary && state.view != View::Diary {
                    intents.push(Intent::LoadDiary);
                }
                if view != View::Diary {
                    // Leaving the diary closes its segment window.
                    state.diary.selected = None;
                }
                state.view = view;
            }
        }
        ui.separator();
        if ui
            .button("Mini view")
            .on_hover_text(mini_view_hint())
            .clicked()
        {
            state.mini = true;
        }
        ui.menu_button("Help", |ui| {
            if ui.button("Report a problem…").clicked() {
                let contract = snapshot
                    .tracking
                    .as_ref()
                    .map(|t| t.contract_id.clone())
                    .or_else(|| state.selected.clone());
                state.report = Some(ReportForm::new(now, zone, contract));
                ui.close();
            }
            if ui.button("Show log folder").clicked() {
                intents.push(Intent::ShowLogFolder);
                ui.close();
            }
            if ui.button("Export logs (zip)").clicked() {
                intents.push(Intent::ExportLogs);
                ui.close();
            }
            ui.separator();
            if ui.button("About Timecard").clicked() {
                intents.push(Intent::ShowAbout);
                ui.close();
            }
        });
    });
}

/// What the mini view is. A Wayland compositor decides by itself whether
/// a window stays above others (many do not let a program ask): say so.
fn mini_view_hint() -> &'static str {
    if std::env::var_os("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty()) {
        "A small window (Ctrl+M). On Wayland the compositor decides whether it stays on top: \
         pin it with your desktop's window menu or rules if it does not."
    } else {
        "A small always-on-top window (Ctrl+M)"
    }
}

fn screen_source(settings: &Settings) -> Box<dyn timecard_client::capture::ScreenSource> {
    timecard_client::capture::default_source(settings)
}

fn activity_source() -> Box<dyn timecard_client::activity::ActivitySource> {
    timecard_client::activity::default_source()
}

/// Opens the window: the engine first (built-in server or the configured
/// one), then the event loop. Returns when the window closes.
pub fn run_app(
    data: DataDir,
    settings: Settings,
    instance: Option<timecard_client::platform::instance::InstanceGuard>,
) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(timecard_core::clock::SystemClock);
    let engine = Engine::start(
        &data,
        &settings,
        clock,
        screen_source(&settings),
        activity_source(),
        crate::builtin::local_server(),
    )?;
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Timecard")
        .with_app_id("timecard")
        .with_inner_size([760.0, 620.0])
        .with_min_inner_size([520.0, 420.0]);
    if let Some(icon) = theme::window_icon() {
        viewport = viewport.with_icon(icon);
    }
    let options = eframe::NativeOptions {
        viewport,
        renderer: eframe::Renderer::Glow,
        ..Default::default()
    };
    eframe::run_native(
        "Timecard",
        options,
        Box::new(move |cc| {
            // Ctrl-C, SIGTERM or the session ending close the window the
            // normal way, so tracking stops and the partial segment is cached.
            let ctx = cc.egui_ctx.clone();
            if let Err(e) =
                ctrlc::set_handler(move || quit(&ctx))
            {
                errln!("timecard: cannot handle termination signals: {e}");
            }
            let mut app = TimecardApp::new(engine, data, settings, &cc.egui_ctx);
            if let Some(guard) = instance {
                app.hold_instance(guard, &cc.egui_ctx);
            }
            app.enable_notifications();
            app.enable_tray(&cc.egui_ctx);
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "the window could not open ({e}); without a graphical session the command line still works: `timecard --help`, `timecard track --contract ID`"
        )
    })
}

/// Y7: a sign-in that met an untrusted certificate leaves the question for
/// the form (which asks instead of showing an error); any other failure
/// is said in words.
fn question_or_words(
    e: SignInError,
    question: &std::sync::Mutex<Option<dialogs::TrustQuestion>>,
) -> String {
    if let SignInError::Untrusted {
        host,
        presented,
        previous,
    } = &e
    {
        *question.lock().expect("question lock") = Some(dialogs::TrustQuestion {
            host: host.clone(),
            presented: *presented,
            previous: *previous,
        });
    }
    e.to_string()
}
