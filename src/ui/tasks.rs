//! The window's background work: every job that could keep a frame waiting
//! (writing a file, zipping logs, signing in, restarting the engine,
//! clearing the data folder) runs on its own thread through [`Tasks`],
//! named, shown in the status bar while it runs, and its outcome handed
//! back to the UI thread by [`Tasks::finished`].

use std::sync::mpsc::{self, Receiver, TryRecvError};

use timecard_client::engine::Engine;
use timecard_client::settings::Settings;

/// The outcome of a sign-in or restart: the new engine and settings, or why
/// not (with the old engine, still running, if it was kept).
pub type EngineRestart = Result<(Engine, Settings), (String, Option<Engine>)>;

/// The outcome of installing an update: how, and the program to start;
/// or why not, with the contract that was tracked before (to go on with).
pub type UpdateResult =
    Result<(timecard_client::update::Installing, std::path::PathBuf), (String, Option<String>)>;

/// What a finished task hands back.
pub enum Outcome {
    /// Nothing to say (the work said it elsewhere).
    Quiet,
    /// A line for the user (saved, exported, or what went wrong).
    Notice(String),
    /// A new engine with its settings, or why not.
    Engine(Box<EngineRestart>),
    /// *Clear cache and restart* stopped the engine and wiped the data
    /// folder, or says why not (the folder is then as it was).
    Cleared(Result<(), String>),
    /// What the server offers, or why it could not be asked.
    UpdateChecked(Result<timecard_client::update::Check, String>),
    /// The update downloaded and checked, or why not.
    UpdateDownloaded(Result<std::path::PathBuf, String>),
    /// The update installed, or why not.
    Updated(Box<UpdateResult>),
}

/// The tasks running now.
#[derive(Default)]
pub struct Tasks {
    running: Vec<(String, Receiver<Outcome>)>,
}

impl Tasks {
    /// Runs `work` on a new thread; `ctx` repaints when it is done.
    pub fn spawn(
        &mut self,
        ctx: &egui::Context,
        name: impl Into<String>,
        work: impl FnOnce() -> Outcome + Send + 'static,
    ) {
        let name = name.into();
        let (tx, rx) = mpsc::channel();
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("ui-task".into())
            .spawn(move || {
                let _ = tx.send(work());
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => {
                log::info!("{name}: started");
                self.running.push((name, rx));
            }
            Err(e) => log::error!("{name}: cannot start a thread: {e}"),
        }
    }

    /// Names of the tasks still running, oldest first.
    pub fn running(&self) -> impl Iterator<Item = &str> {
        self.running.iter().map(|(name, _)| name.as_str())
    }

    /// Takes the tasks that ended since the last call, with their outcome. A
    /// task whose thread died without one says so as a notice.
    pub fn finished(&mut self) -> Vec<(String, Outcome)> {
        let mut done = Vec::new();
        self.running.retain(|(name, rx)| match rx.try_recv() {
            Ok(outcome) => {
                log::info!("{name}: done");
                done.push((name.clone(), outcome));
                false
            }
            Err(TryRecvError::Empty) => true,
            Err(TryRecvError::Disconnected) => {
                log::error!("{name}: stopped without finishing");
                done.push((
                    name.clone(),
                    Outcome::Notice(format!("{name} stopped without finishing (see the logs)")),
                ));
                false
            }
        });
        done
    }
}

/// The running tasks, at the start of the status bar.
pub fn running_ui(ui: &mut egui::Ui, tasks: &Tasks) {
    for name in tasks.running() {
        ui.add(egui::Spinner::new());
        ui.label(format!("{name}…"));
        ui.separator();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(tasks: &mut Tasks) -> Vec<(String, Outcome)> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let done = tasks.finished();
            if !done.is_empty() || std::time::Instant::now() > deadline {
                return done;
            }
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_task_is_listed_while_it_runs_and_hands_back_its_outcome() {
        let ctx = egui::Context::default();
        let mut tasks = Tasks::default();
        let (go, wait_for_go) = mpsc::channel::<()>();
        tasks.spawn(&ctx, "Exporting logs", move || {
            let _ = wait_for_go.recv();
            Outcome::Notice("3 log files exported".into())
        });
        assert_eq!(tasks.running().collect::<Vec<_>>(), ["Exporting logs"]);
        assert!(tasks.finished().is_empty());
        go.send(()).unwrap();
        let done = wait(&mut tasks);
        assert_eq!(done.len(), 1);
        assert!(matches!(&done[0].1, Outcome::Notice(n) if n == "3 log files exported"));
        assert_eq!(tasks.running().count(), 0);
    }

    #[test]
    fn a_task_that_dies_is_reported() {
        let ctx = egui::Context::default();
        let mut tasks = Tasks::default();
        tasks.spawn(&ctx, "Zipping logs", || panic!("a bug"));
        let done = wait(&mut tasks);
        assert!(
            matches!(&done[0].1, Outcome::Notice(n) if n.starts_with("Zipping logs stopped")),
            "{}",
            done[0].0
        );
    }
}
