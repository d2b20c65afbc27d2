//! The spool: the folder where files handed over by the page wait to be
//! offered, `lanchat-gui-PID-XXXXXXXXXXXX` in the temporary folder.
//!
//! lanchat removes its spool when it leaves, a signal included. One killed
//! outright (Task Manager, `kill -9`, a crash, the power) cannot: its spool
//! holds a lock file, `.lock`, locked as long as that lanchat runs (the OS
//! lets go of the lock when the process dies, however it dies). The next
//! `lanchat --gui` removes every spool whose lock it can take.
//!
//! ```text
//! start: create_dir ─▶ .lock created ─▶ locked (waits if a sweeper holds it) ─▶ our PID written
//! sweep: each lanchat-gui-* ─▶ .lock try_lock ─▶ taken and not empty ─▶ removed
//! ```
//!
//! A lock file still empty belongs to a lanchat between creating and
//! locking it: it is left alone.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The prefix of every spool's name.
pub const PREFIX: &str = "lanchat-gui-";
/// The lock file in a spool.
const LOCK: &str = ".lock";

/// This lanchat's spool, locked while it lives, removed on drop.
#[derive(Debug)]
pub struct SpoolDir {
    path: PathBuf,
    lock: Option<File>,
}

impl SpoolDir {
    /// Creates `parent/lanchat-gui-PID-TAG` and locks it.
    ///
    /// # Errors
    /// The folder or its lock file cannot be made.
    pub fn create(parent: &Path, tag: &str) -> io::Result<SpoolDir> {
        let path = parent.join(format!("{PREFIX}{}-{tag}", std::process::id()));
        fs::create_dir_all(&path)?;
        let mut lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path.join(LOCK))?;
        lock.lock()?;
        write!(lock, "{}", std::process::id())?;
        lock.flush()?;
        Ok(SpoolDir {
            path,
            lock: Some(lock),
        })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SpoolDir {
    fn drop(&mut self) {
        // Unlocked and closed first: Windows removes no open file.
        drop(self.lock.take());
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Removes the spools in `parent` left by a lanchat that is gone; returns
/// how many.
pub fn sweep(parent: &Path) -> usize {
    let Ok(entries) = fs::read_dir(parent) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let dir = entry.path();
        let Ok(lock) = OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.join(LOCK))
        else {
            continue; // not a spool of this version, or not one at all
        };
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock | TryLockError::Error(_)) => continue,
        }
        if lock.metadata().map_or(true, |m| m.len() == 0) {
            continue; // its lanchat is starting
        }
        drop(lock);
        if fs::remove_dir_all(&dir).is_ok() {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("lanchat-spool-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_live_spool_stays_and_goes_when_dropped() {
        let parent = scratch("live");
        let spool = SpoolDir::create(&parent, "aaaa").unwrap();
        fs::write(spool.path().join("a.txt"), "x").unwrap();
        // Its lock is held (by this process, through another handle: the
        // OS treats two opens as two owners).
        assert_eq!(sweep(&parent), 0);
        assert!(spool.path().join("a.txt").exists());
        let path = spool.path().to_path_buf();
        drop(spool);
        assert!(!path.exists());
        fs::remove_dir_all(&parent).unwrap();
    }

    #[test]
    fn a_dead_lanchats_spool_is_swept_others_are_left() {
        let parent = scratch("dead");
        // A spool whose lanchat died: its lock file written, nobody holds it.
        let dead = parent.join(format!("{PREFIX}999999-dead"));
        fs::create_dir_all(dead.join("b1")).unwrap();
        fs::write(dead.join("b1/big.bin"), vec![0u8; 1000]).unwrap();
        fs::write(dead.join(LOCK), "999999").unwrap();
        // One whose lanchat is between creating and locking it.
        let starting = parent.join(format!("{PREFIX}999998-starting"));
        fs::create_dir_all(&starting).unwrap();
        fs::write(starting.join(LOCK), "").unwrap();
        // Not a spool of ours (no lock file), and not ours at all.
        let old = parent.join(format!("{PREFIX}999997-old"));
        fs::create_dir_all(&old).unwrap();
        let other = parent.join("someone-else");
        fs::create_dir_all(&other).unwrap();
        fs::write(other.join(LOCK), "1").unwrap();
        assert_eq!(sweep(&parent), 1);
        assert!(!dead.exists());
        assert!(starting.exists() && old.exists() && other.exists());
        fs::remove_dir_all(&parent).unwrap();
    }
}
