//! A headless Sway (wlroots, pixman renderer, no input devices) for tests
//! of the Wayland pieces. Sway refuses to run as root: under root it runs
//! as an unprivileged user made for it (`timecard-wl`), with a runtime
//! folder that user owns; clients running as root connect to its socket.
//! Stopped on drop. Skipped loudly where Sway is not installed (a failure
//! under `TIMECARD_REQUIRE_DISPLAY=1`, as in CI).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The user Sway runs as when the tests run as root.
const SWAY_USER: &str = "timecard-wl";

pub struct Sway {
    child: Child,
    /// `XDG_RUNTIME_DIR`: the Wayland socket, Sway's IPC socket, the config.
    pub runtime: tempfile::TempDir,
    /// `WAYLAND_DISPLAY`.
    pub display: String,
    /// `SWAYSOCK`.
    pub ipc: PathBuf,
}

impl Sway {
    /// Starts Sway with `config` (its `output` lines set the picture);
    /// `None` when Sway is not installed and not required. Files the
    /// config names must be in [`Sway::runtime`] (copy them with
    /// [`Sway::file`] first): the user Sway runs as may read nothing else.
    pub fn start(config: &str, files: &[(&str, &Path)]) -> Option<Sway> {
        if !super::xvfb::tools_present(&["sway", "swaybg", "swaymsg"]) {
            return None;
        }
        let runtime = tempfile::Builder::new()
            .prefix("timecard-sway-")
            .tempdir()
            .expect("a runtime folder");
        for (name, from) in files {
            std::fs::copy(from, runtime.path().join(name)).expect("copy a file for Sway");
        }
        let config = config.replace("$DIR", &runtime.path().display().to_string());
        std::fs::write(runtime.path().join("config"), config).expect("write Sway's config");
        let mut command = if is_root() {
            ensure_user();
            chown_tree(runtime.path());
            let mut c = Command::new("runuser");
            c.args(["-u", SWAY_USER, "--", "sway"]);
            c
        } else {
            Command::new("sway")
        };
        let child = command
            .arg("-c")
            .arg(runtime.path().join("config"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("XDG_RUNTIME_DIR", runtime.path())
            .env("WLR_BACKENDS", "headless")
            .env("WLR_RENDERER", "pixman")
            .env("WLR_LIBINPUT_NO_DEVICES", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(runtime.path().join("sway.log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn()
            .expect("start sway");
        let mut sway = Sway {
            child,
            display: String::new(),
            ipc: PathBuf::new(),
            runtime,
        };
        sway.wait_ready();
        Some(sway)
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let entries: Vec<String> = std::fs::read_dir(self.runtime.path())
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            let display = entries
                .iter()
                .find(|n| n.starts_with("wayland-") && !n.ends_with(".lock"));
            let ipc = entries.iter().find(|n| n.starts_with("sway-ipc."));
            if let (Some(display), Some(ipc)) = (display, ipc) {
                self.display = display.clone();
                self.ipc = self.runtime.path().join(ipc);
                if self.try_msg(&["-t", "get_outputs"]).is_some() {
                    return;
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("sway exited ({status}): {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "sway did not start in 30 s: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.runtime.path().join("sway.log")).unwrap_or_default()
    }

    /// The environment of a client of this compositor (no X11).
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "XDG_RUNTIME_DIR".into(),
                self.runtime.path().display().to_string(),
            ),
            ("WAYLAND_DISPLAY".into(), self.display.clone()),
        ]
    }

    /// `swaymsg ARGS`; panics when it fails.
    pub fn msg(&self, args: &[&str]) -> String {
        self.try_msg(args)
            .unwrap_or_else(|| panic!("swaymsg {args:?} failed: {}", self.log()))
    }

    fn try_msg(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("swaymsg")
            .arg("-s")
            .arg(&self.ipc)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Sway {
    fn drop(&mut self) {
        let _ = self.try_msg(&["exit"]);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Makes the unprivileged user Sway runs as, once.
fn ensure_user() {
    static MADE: std::sync::Once = std::sync::Once::new();
    MADE.call_once(|| {
        let exists = Command::new("id")
            .arg(SWAY_USER)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !exists {
            let made = Command::new("useradd")
                .args([
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                ])
                .arg(SWAY_USER)
                .status()
                .expect("run useradd");
            assert!(made.success(), "useradd {SWAY_USER} failed");
        }
    });
}

fn chown_tree(path: &Path) {
    let status = Command::new("chown")
        .args(["-R", SWAY_USER])
        .arg(path)
        .status()
        .expect("run chown");
    assert!(
        status.success(),
        "chown -R {SWAY_USER} {} failed",
        path.display()
    );
}
