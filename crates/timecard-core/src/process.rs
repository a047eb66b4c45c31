//! Process-wide start-up for both binaries: when the process started, and
//! the allocator settings that keep short bursts of large buffers from
//! staying resident.

use std::sync::OnceLock;
use std::time::Instant;

static PROCESS_START: OnceLock<Instant> = OnceLock::new();

/// Notes when the process started and tunes the allocator (call first
/// thing in `main`).
pub fn mark_process_start() {
    let _ = PROCESS_START.set(Instant::now());
    tune_allocator();
}

/// Large, short-lived buffers (Argon2's 19 MiB at every sign-in, screenshot
/// encoding, an upload's body) go straight to the kernel and back when
/// freed, instead of staying resident in a malloc arena for the life of the
/// process; and a few arenas serve all threads (glibc makes up to eight per
/// core, and the server's blocking pool has many threads), so what one
/// burst of requests freed is reused by the next instead of sitting in
/// another arena.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called once
    // at start-up, before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 4);
    }
}

/// Time since [`mark_process_start`].
pub fn since_process_start() -> std::time::Duration {
    PROCESS_START.get_or_init(Instant::now).elapsed()
}
