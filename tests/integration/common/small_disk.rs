//! A real, small filesystem that fills up: a tmpfs of a few megabytes
//! mounted for one test. Mounting needs root; elsewhere the test is skipped
//! loudly, and under `TIMECARD_REQUIRE_MOUNT=1` (CI) that is a failure.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

/// A mounted tmpfs, unmounted (lazily) on drop.
pub struct SmallDisk {
    _dir: Option<tempfile::TempDir>,
    path: PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `megabytes`, or says why not and returns `None`.
    pub fn mount(megabytes: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let mut disk = SmallDisk::mount_on(dir.path(), megabytes)?;
        disk._dir = Some(dir);
        Some(disk)
    }

    /// Mounts a tmpfs of `megabytes` on the existing folder `path` (a mount
    /// point inside a data folder, say), or says why not.
    pub fn mount_on(path: &Path, megabytes: u32) -> Option<SmallDisk> {
        let path = path.to_owned();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={megabytes}m,mode=0700"))
            .args(["tmpfs"])
            .arg(&path)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(SmallDisk { _dir: None, path }),
            other => {
                let why = match other {
                    Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
                    Err(e) => e.to_string(),
                };
                assert!(
                    std::env::var_os("TIMECARD_REQUIRE_MOUNT").is_none(),
                    "TIMECARD_REQUIRE_MOUNT is set but a tmpfs cannot be mounted: {why}"
                );
                eprintln!("\n*** SKIPPED: cannot mount a small tmpfs (needs root): {why} ***\n");
                None
            }
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Fills the disk and keeps it full (whatever others free is taken
    /// again at once) until the returned guard is dropped, which deletes
    /// the filler.
    pub fn fill(&self) -> Filler {
        let path = self.path.join("filler");
        let file = std::fs::File::create(&path).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let full = Arc::new(Barrier::new(2));
        let thread = {
            let (stop, full) = (stop.clone(), full.clone());
            std::thread::spawn(move || {
                let mut file = file;
                let mut told = false;
                while !stop.load(Ordering::SeqCst) {
                    let mut wrote = false;
                    for size in [64 * 1024, 4096, 512, 1] {
                        while file.write_all(&vec![0xA5u8; size]).is_ok() {
                            wrote = true;
                        }
                    }
                    if !told {
                        told = true;
                        full.wait();
                    }
                    if !wrote {
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                }
            })
        };
        full.wait();
        Filler {
            path,
            stop,
            thread: Some(thread),
        }
    }
}

/// Keeps a [`SmallDisk`] full while it lives.
pub struct Filler {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Filler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}
