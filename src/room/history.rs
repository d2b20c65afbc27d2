//! The room's memory: the last relayed lines, told to a member who joins
//! (`--history N`), and the chat log they are appended to
//! (`--history-file`), read back at start so a restarted room remembers.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::rc::Rc;
use std::time::SystemTime;

use super::entry::Entry;

/// The last relayed lines, for members who join (`--history N`), and the
/// chat log they are appended to (`--history-file`).
#[derive(Debug)]
pub struct History {
    lines: VecDeque<Rc<Entry>>,
    max: usize,
    file: Option<File>,
}

impl History {
    /// Keeps the last `max` lines; with `path`, reads the last `max` back
    /// from the chat log (so a restarted room remembers) and appends to it.
    /// A line of the log longer than `max_line` is not taken back.
    ///
    /// # Errors
    /// The OS error opening or reading the file.
    pub fn open(max: usize, path: Option<&Path>, max_line: usize) -> io::Result<History> {
        let mut h = History {
            lines: VecDeque::new(),
            max,
            file: None,
        };
        if let Some(path) = path {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(path)?;
            for line in tail(&mut file, max)? {
                let said = from_log(&line)
                    .filter(|relayed| relayed.len() <= max_line + 200)
                    .and_then(Entry::from_log);
                if let Some(entry) = said {
                    h.keep(Rc::new(entry));
                }
            }
            h.file = Some(file);
        }
        Ok(h)
    }

    fn keep(&mut self, line: Rc<Entry>) {
        if self.max == 0 {
            return;
        }
        self.lines.push_back(line);
        while self.lines.len() > self.max {
            self.lines.pop_front();
        }
    }

    /// A line was relayed (`<WHO> text\\n`, as sent): the log gets it first
    /// (one write, so a reader never sees half a line), then the history.
    pub fn relayed(&mut self, line: &Entry, now: SystemTime) {
        if let Some(f) = &mut self.file {
            let ts = humantime::format_rfc3339_seconds(now).to_string();
            let _ = f.write_all(&[ts.as_bytes(), b" ", line.wire()].concat());
        }
        if self.max > 0 {
            self.keep(Rc::new(line.clone()));
        }
    }

    /// A notice of the room's (an operator's action) for the chat log
    /// alone: written as it is, never told as history.
    pub fn log(&mut self, line: &[u8], now: SystemTime) {
        if let Some(f) = &mut self.file {
            let ts = humantime::format_rfc3339_seconds(now).to_string();
            let _ = f.write_all(&[ts.as_bytes(), b" ", line].concat());
        }
    }

    /// Whether lines are kept or logged at all.
    pub fn is_on(&self) -> bool {
        self.max > 0 || self.file.is_some()
    }

    /// The lines a joining member is told, oldest first.
    pub fn lines(&self) -> impl ExactSizeIterator<Item = &Rc<Entry>> {
        self.lines.iter()
    }
}

/// The relayed line in a chat-log line `2026-12-02T01:02:03Z <WHO> text`.
fn from_log(line: &[u8]) -> Option<&[u8]> {
    let space = line.iter().position(|&c| c == b' ')?;
    let (ts, rest) = (&line[..space], &line[space + 1..]);
    (ts.ends_with(b"Z") && rest.first() == Some(&b'<')).then_some(rest)
}

/// The last `n` lines of `file` (without their `\\n`), reading from its end
/// backwards, so a long log costs only what is kept.
fn tail(file: &mut File, n: usize) -> io::Result<Vec<Vec<u8>>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let len = file.seek(SeekFrom::End(0))?;
    let mut pos = len;
    let mut buf: Vec<u8> = Vec::new();
    const CHUNK: u64 = 64 * 1024;
    loop {
        let lines = buf.iter().filter(|&&c| c == b'\n').count();
        if pos == 0 || lines > n {
            break;
        }
        let start = pos.saturating_sub(CHUNK);
        let mut chunk = vec![0; (pos - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&buf);
        buf = chunk;
        pos = start;
    }
    let mut lines: Vec<Vec<u8>> = buf
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    if pos > 0 && !lines.is_empty() {
        lines.remove(0); // it may have begun before what was read
    }
    let skip = lines.len().saturating_sub(n);
    Ok(lines.split_off(skip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_the_last_n_and_the_log_remembers_them() {
        let dir = std::env::temp_dir().join(format!("lanchat-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chat.log");
        let _ = std::fs::remove_file(&path);
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_000_000);
        let mut h = History::open(3, Some(&path), 100).unwrap();
        for i in 0..5 {
            h.relayed(
                &Entry::said(b"a@1.2.3.4:5", format!("line {i}").as_bytes()),
                t,
            );
        }
        let kept: Vec<&[u8]> = h.lines().map(|l| l.wire()).collect();
        assert_eq!(
            kept,
            vec![
                &b"<a@1.2.3.4:5> line 2\n"[..],
                b"<a@1.2.3.4:5> line 3\n",
                b"<a@1.2.3.4:5> line 4\n"
            ]
        );
        let log = std::fs::read_to_string(&path).unwrap();
        assert_eq!(log.lines().count(), 5);
        let ts = humantime::format_rfc3339_seconds(t).to_string();
        assert!(ts.ends_with('Z') && ts.len() == 20, "{ts}");
        for (i, l) in log.lines().enumerate() {
            assert_eq!(l, format!("{ts} <a@1.2.3.4:5> line {i}"));
        }
        drop(h);
        // Restarted: the last 3 come back, the log goes on.
        let again = History::open(3, Some(&path), 100).unwrap();
        let kept: Vec<&[u8]> = again.lines().map(|l| l.wire()).collect();
        assert_eq!(kept[0], b"<a@1.2.3.4:5> line 2\n");
        assert_eq!(kept.len(), 3);
        // Off: nothing kept, nothing told.
        let mut off = History::open(0, None, 100).unwrap();
        off.relayed(&Entry::said(b"x", b"y"), t);
        assert_eq!(off.lines().len(), 0);
        drop(again); // Windows deletes no open file
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_tail_of_a_long_log_is_read_from_its_end() {
        let dir = std::env::temp_dir().join(format!("lanchat-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big.log");
        let mut body = String::new();
        for i in 0..20_000 {
            body.push_str(&format!(
                "2026-12-02T01:02:03Z <x@1.2.3.4:5> {i} {}\n",
                "y".repeat(i % 50)
            ));
        }
        std::fs::write(&path, &body).unwrap();
        let mut f = File::open(&path).unwrap();
        let last = tail(&mut f, 1000).unwrap();
        assert_eq!(last.len(), 1000);
        assert!(String::from_utf8_lossy(&last[0]).contains("> 19000 "));
        assert!(String::from_utf8_lossy(&last[999]).contains("> 19999 "));
        assert_eq!(tail(&mut f, 30_000).unwrap().len(), 20_000);
        drop(f); // Windows deletes no open file
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
