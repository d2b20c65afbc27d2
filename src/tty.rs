//! Terminal detection, and putting the terminal back as it was.
//!
//! The line editor switches the terminal to raw mode while it reads. If the
//! program ends from another thread (SIGTERM, the server going away), the
//! editor never gets to undo that, so [`TermGuard`] saves the mode at start
//! and [`TermGuard::restore`] puts it back before exiting.

use std::io::IsTerminal;

/// Whether stdin is a terminal.
pub fn stdin_is_terminal() -> bool {
    std::io::stdin().is_terminal()
}

/// The terminal mode of stdin as it was at start.
pub struct TermGuard {
    saved: crate::sys::TermMode,
}

impl TermGuard {
    /// Saves the current mode of stdin (nothing when it is not a terminal).
    pub fn save() -> Self {
        TermGuard {
            saved: crate::sys::TermMode::save(),
        }
    }

    /// Runs `f` and puts the terminal mode back afterwards, whatever thread
    /// left it in raw mode.
    pub fn around<T>(f: impl FnOnce() -> T) -> T {
        let guard = TermGuard::save();
        let out = f();
        guard.restore();
        out
    }

    /// Puts the saved mode back.
    pub fn restore(&self) {
        self.saved.restore();
    }
}
