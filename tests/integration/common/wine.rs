//! The Windows binaries under Wine: built here for `x86_64-pc-windows-gnu`
//! (release, in the target folder's `windows/`, where
//! `ci/windows-package.sh` builds them too), run by Debian's `wine` in a
//! prefix of their own, on an X server of the test's.
//!
//! Wine 8 lacks `ProcessPrng` in `bcryptprimitives.dll`, which Rust's
//! standard library calls for randomness: a small DLL built here with
//! mingw-w64 (`ProcessPrng` over `RtlGenRandom`) is put in the prefix's
//! `system32`. Nothing is downloaded.
//!
//! One Wine session (wineserver, and the desktop process tied to the first
//! program's X display) serves a prefix, so the tests that run Windows
//! programs take turns ([`Wine::session`]), each on its own X server.
//! Without Wine or mingw-w64 they skip loudly, unless
//! `TIMECARD_REQUIRE_WINE=1` (as in CI).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, OnceLock};

use super::cli::{run, text};

pub const TARGET: &str = "x86_64-pc-windows-gnu";

/// The Windows build and the Wine prefix, made once per test process.
pub struct Wine {
    /// `<target>/windows`: the Windows build's own target folder (a
    /// second cargo must not wait on the running one's lock).
    pub target_dir: PathBuf,
    pub prefix: PathBuf,
}

static WINE: OnceLock<Option<Wine>> = OnceLock::new();
static TURN: Mutex<()> = Mutex::new(());

/// A turn at the Wine prefix; the Wine session is ended when it is dropped.
pub struct Session<'a> {
    wine: &'a Wine,
    _turn: MutexGuard<'static, ()>,
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        self.wine.end_session();
    }
}

impl Wine {
    /// The Windows binaries and the prefix, or `None` (said loudly) where
    /// Wine, mingw-w64 or the Rust target are missing.
    pub fn get() -> Option<&'static Wine> {
        WINE.get_or_init(Wine::prepare).as_ref()
    }

    fn prepare() -> Option<Wine> {
        let missing: Vec<&str> = [
            ("wine", "--version"),
            ("wineserver", "--version"),
            ("x86_64-w64-mingw32-gcc", "--version"),
        ]
        .into_iter()
        .filter(|(tool, arg)| {
            !Command::new(tool)
                .arg(arg)
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(|(tool, _)| tool)
        .collect();
        let target_installed = Command::new("rustc")
            .args(["--print", "target-libdir", "--target", TARGET])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .is_some_and(|dir| dir.is_dir());
        if !missing.is_empty() || !target_installed {
            let what = format!(
                "{missing:?} missing{}",
                if target_installed {
                    ""
                } else {
                    "; the Rust target x86_64-pc-windows-gnu is not installed (rustup target add x86_64-pc-windows-gnu)"
                }
            );
            assert!(
                std::env::var_os("TIMECARD_REQUIRE_WINE").is_none(),
                "TIMECARD_REQUIRE_WINE is set but {what}"
            );
            eprintln!("\n*** SKIPPED: the Windows tests under Wine: {what} ***\n");
            return None;
        }
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let target_dir = tmp.parent().expect("the target folder").join("windows");
        let wine = Wine {
            target_dir,
            prefix: tmp.join("wine-prefix"),
        };
        wine.cargo_with(&["build", "--release", "--bins"], &[]);
        wine.make_prefix();
        Some(wine)
    }

    /// `cargo ARGS --target x86_64-pc-windows-gnu` in the workspace, with
    /// Wine as the runner and `env` added; panics with its output if it
    /// fails.
    pub fn cargo_with(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .args(args)
            .args(["--target", TARGET])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .env("CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER", "wine")
            .envs(self.env())
            .envs(env.iter().copied());
        let out = run(&mut command, None);
        assert!(
            out.status.success(),
            "cargo {args:?} for Windows failed:\n{}",
            text(&out)
        );
        out
    }

    /// The Wine environment: the prefix, no debug chatter, and no prompt
    /// to install Mono or Gecko (nothing here needs them).
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("WINEPREFIX".into(), self.prefix.display().to_string()),
            ("WINEDEBUG".into(), "-all".into()),
            ("WINEDLLOVERRIDES".into(), "mscoree,mshtml=".into()),
        ]
    }

    /// The prefix, made once (`wineboot`), with the `ProcessPrng` DLL.
    fn make_prefix(&self) {
        let system32 = self.prefix.join("drive_c/windows/system32");
        if !system32.join("kernel32.dll").exists() {
            let mut boot = Command::new("wineboot");
            boot.arg("--init").envs(self.env()).env_remove("DISPLAY");
            let out = run(&mut boot, None);
            assert!(out.status.success(), "wineboot: {}", text(&out));
            self.end_session();
        }
        let dll = system32.join("bcryptprimitives.dll");
        let source = self.prefix.join("process-prng.c");
        std::fs::write(&source, PROCESS_PRNG).unwrap();
        let exports = self.prefix.join("process-prng.def");
        std::fs::write(
            &exports,
            "LIBRARY bcryptprimitives.dll\nEXPORTS\nProcessPrng\n",
        )
        .unwrap();
        let mut gcc = Command::new("x86_64-w64-mingw32-gcc");
        gcc.args(["-shared", "-O2", "-o"])
            .arg(&dll)
            .arg(&source)
            .arg(&exports)
            .arg("-ladvapi32");
        let out = run(&mut gcc, None);
        assert!(out.status.success(), "building the shim: {}", text(&out));
    }

    /// Waits for this test's turn at the prefix.
    pub fn session(&self) -> Session<'_> {
        let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        // A session a failed test left behind.
        self.end_session();
        Session {
            wine: self,
            _turn: turn,
        }
    }

    /// Ends the prefix's Wine session (its programs and wineserver).
    fn end_session(&self) {
        let _ = Command::new("wineserver")
            .arg("-k")
            .envs(self.env())
            .output();
        let _ = Command::new("wineserver")
            .arg("-w")
            .envs(self.env())
            .output();
    }

    /// A release binary of the Windows build, e.g. `timecard.exe`.
    pub fn exe(&self, name: &str) -> PathBuf {
        self.target_dir.join(TARGET).join("release").join(name)
    }

    /// `wine EXE` on X display `display` (the session's desktop).
    pub fn command(&self, exe: &str, display: &str) -> Command {
        let mut command = Command::new("wine");
        command
            .arg(self.exe(exe))
            .envs(self.env())
            .env("DISPLAY", display)
            .env_remove("WAYLAND_DISPLAY");
        command
    }
}

/// `ProcessPrng` (what Rust's standard library asks Windows 10+ for
/// randomness) over `RtlGenRandom`, which Wine 8 has.
const PROCESS_PRNG: &str = r#"#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
"#;
