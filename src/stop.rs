//! The Ctrl-C / SIGTERM flag every loop polls.
//!
//! `ctrlc` (with its `termination` feature) runs our handler on its own
//! thread for SIGINT, SIGTERM and SIGHUP. The handler only sets a flag (and,
//! for event loops, wakes them); the loops notice it within their poll
//! interval, flush what they hold and return.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often blocking loops look at the flag.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// A shared stop flag.
#[derive(Clone, Debug, Default)]
pub struct Stop {
    flag: Arc<AtomicBool>,
}

impl Stop {
    /// A flag nobody sets but the caller (for tests and library users).
    pub fn new() -> Self {
        Self::default()
    }

    /// A flag set by Ctrl-C, SIGTERM or SIGHUP; `on_stop` runs after it is
    /// set (e.g. to wake an event loop).
    ///
    /// # Errors
    /// When a handler was already installed in this process.
    pub fn install<F>(on_stop: F) -> Result<Stop, ctrlc::Error>
    where
        F: Fn() + Send + 'static,
    {
        let stop = Stop::new();
        let flag = stop.clone();
        ctrlc::set_handler(move || {
            flag.set();
            on_stop();
        })?;
        Ok(stop)
    }

    /// Asks every loop holding this flag to stop.
    pub fn set(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_flag() {
        let a = Stop::new();
        let b = a.clone();
        assert!(!b.is_set());
        a.set();
        assert!(b.is_set());
    }
}
