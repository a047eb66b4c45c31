//! The console a Windows program is given when it is started from Explorer
//! or the Start menu rather than from a terminal.
//!
//! `timecard.exe` is a console program, so that the command line prints
//! where it was typed. Started by a double-click, Windows opens a console
//! window of its own beside the app's window; [`leave_own_console`] closes
//! it. A console shared with a terminal (other processes attached) is left
//! alone. Elsewhere this does nothing.

/// Lets go of the console if this process is the only one attached to it
/// (Windows made it for us); called before the window opens.
pub fn leave_own_console() {
    #[cfg(windows)]
    {
        use windows::Win32::System::Console::{FreeConsole, GetConsoleProcessList};
        let mut attached = [0u32; 2];
        // SAFETY: the buffer is valid for its length.
        let count = unsafe { GetConsoleProcessList(&mut attached) };
        if count == 1 {
            // SAFETY: no arguments; later writes to the old standard
            // handles fail quietly (the window logs to its files).
            let _ = unsafe { FreeConsole() };
        }
    }
}
