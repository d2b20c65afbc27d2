//! The `--log` file (chat-window's and lanchat's): opened to append, and
//! for `lanchat` one JSON line per message received or sent, whatever the
//! mode, shared by the receiving thread and the window.
//! Each call writes whole lines with one `write`, so a reader (or a crash)
//! never sees half a record, and nothing shown is missing after a signal.

use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde::Serialize;

use crate::message::SentRecord;

/// Opens a `--log FILE` to append to (created if missing).
///
/// # Errors
/// The OS error, for the caller to name the file.
pub fn open_log(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// The log file, shared.
#[derive(Clone, Debug)]
pub struct Journal(Arc<Mutex<File>>);

impl Journal {
    /// Appends to `file` (opened with [`open_log`]).
    pub fn new(file: File) -> Self {
        Journal(Arc::new(Mutex::new(file)))
    }

    /// Writes whole JSON lines, already made (one write).
    pub fn write(&self, lines: &str) {
        if lines.is_empty() {
            return;
        }
        if let Ok(mut f) = self.0.lock() {
            let _ = f.write_all(lines.as_bytes());
        }
    }

    /// Writes one record as a JSON line.
    pub fn record(&self, record: &impl Serialize) {
        self.write(&line(record));
    }

    /// Logs a sent line: `{"ts":…,"to":…,"text":…,"bytes":N}`.
    pub fn sent(&self, to: &str, text: &str, bytes: usize, time: SystemTime) {
        self.record(&SentRecord {
            ts: crate::clock::timestamp(time).into(),
            to: to.into(),
            text: text.into(),
            bytes,
        });
    }
}

/// A record as one JSON line with its newline.
pub fn line(record: &impl Serialize) -> String {
    let mut line = serde_json::to_string(record).expect("a record always serializes");
    line.push('\n');
    line
}
