//! Status lines on stderr, each written with a single `write`.
//!
//! Scripts and tests watch stderr for lines such as `listening on ADDR:PORT`.
//! `eprintln!` may split one line over several writes (stderr is
//! unbuffered), so a watcher could read `listening on 0.0.0.0:34` before the
//! rest of the port arrives. [`say()`] writes the whole line at once.

use std::io::Write;

/// Writes `text` and a newline to stderr in one write.
pub fn say(text: &str) {
    let mut buf = String::with_capacity(text.len() + 1);
    buf.push_str(text);
    buf.push('\n');
    let _ = std::io::stderr().lock().write_all(buf.as_bytes());
}
