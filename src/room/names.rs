//! Who is who in the room: the three words the server reads (`/nick`,
//! `/who`, `/msg`), the rules a name must follow, the directory that finds
//! a member by name or address, and the history a joining member is told.
//!
//! Names are bytes in their member's own encoding (the server decodes
//! nothing) and are compared with ASCII letters folded, so `Bob` and `bob`
//! are one name and `老王` is compared byte for byte.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::rc::Rc;
use std::time::SystemTime;

/// The longest name, in bytes.
pub const NAME_MAX: usize = 32;
/// Members listed in a `/who` answer at most.
pub const WHO_MAX: usize = 200;

/// A line the server reads instead of relaying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// `/nick NAME`, or `/nick` alone (back to `ip:port`).
    Nick(Option<&'a [u8]>),
    /// `/who`.
    Who,
    /// `/msg NAME text`.
    Msg {
        /// The member it is for (a name, or `ip:port`).
        to: &'a [u8],
        /// The text.
        text: &'a [u8],
    },
    /// `/msg` without a name and a text.
    MsgUsage,
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t'))
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !matches!(c, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

/// The command a line is, if it is one: its first word is exactly `/nick`,
/// `/who` or `/msg`. Every other line, `/` or not, is relayed.
pub fn command(line: &[u8]) -> Option<Command<'_>> {
    let (word, rest) = match line.iter().position(|&c| c == b' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &b""[..]),
    };
    match word {
        b"/nick" => {
            let name = trim(rest);
            Some(Command::Nick((!name.is_empty()).then_some(name)))
        }
        b"/who" => Some(Command::Who),
        b"/msg" => {
            let rest = trim(rest);
            match rest.iter().position(|&c| c == b' ') {
                Some(i) if !trim(&rest[i + 1..]).is_empty() => Some(Command::Msg {
                    to: &rest[..i],
                    text: &rest[i + 1..],
                }),
                _ => Some(Command::MsgUsage),
            }
        }
        _ => None,
    }
}

/// Why a name cannot be taken (`! nick NAME refused: REASON`).
pub fn check(name: &[u8]) -> Result<(), &'static str> {
    if name.len() > NAME_MAX {
        return Err("too long (max 32 bytes)");
    }
    if name.contains(&b' ') {
        return Err("has a space");
    }
    if name.iter().any(|&c| c < 0x20 || c == 0x7f) {
        return Err("has a control character");
    }
    if name.iter().any(|c| b"<>[]@".contains(c)) {
        return Err("has one of < > [ ] @");
    }
    Ok(())
}

/// A name as names are compared: ASCII letters folded to lower case.
fn fold(name: &[u8]) -> Vec<u8> {
    name.to_ascii_lowercase()
}

/// Finds members by name and by `ip:port`; says which names are taken.
#[derive(Debug, Default)]
pub struct Directory<K> {
    names: HashMap<Vec<u8>, K>,
    addrs: HashMap<Box<[u8]>, K>,
}

impl<K: Copy + PartialEq> Directory<K> {
    /// A member `key` at `addr` joined.
    pub fn joined(&mut self, key: K, addr: &str) {
        self.addrs.insert(addr.as_bytes().into(), key);
    }

    /// Member `key` at `addr` (named `name`) left.
    pub fn left(&mut self, key: K, addr: &str, name: Option<&[u8]>) {
        if self.addrs.get(addr.as_bytes()) == Some(&key) {
            self.addrs.remove(addr.as_bytes());
        }
        if let Some(n) = name {
            self.release(key, n);
        }
    }

    /// Gives `key` the name `new` (its old one `old` is given up).
    ///
    /// # Errors
    /// Why not: the name breaks a rule, or another member has it.
    pub fn rename(&mut self, key: K, old: Option<&[u8]>, new: &[u8]) -> Result<(), &'static str> {
        check(new)?;
        let folded = fold(new);
        match self.names.get(&folded) {
            Some(holder) if *holder != key => return Err("in use"),
            _ => {}
        }
        if let Some(o) = old {
            self.release(key, o);
        }
        self.names.insert(folded, key);
        Ok(())
    }

    /// `key` gives up its name `name`.
    pub fn release(&mut self, key: K, name: &[u8]) {
        let folded = fold(name);
        if self.names.get(&folded) == Some(&key) {
            self.names.remove(&folded);
        }
    }

    /// The member called `who`: a name (ASCII letters without case), or an
    /// `ip:port`.
    pub fn find(&self, who: &[u8]) -> Option<K> {
        self.names
            .get(&fold(who))
            .or_else(|| self.addrs.get(who))
            .copied()
    }
}

/// The last relayed lines, for members who join (`--history N`), and the
/// chat log they are appended to (`--history-file`).
#[derive(Debug)]
pub struct History {
    lines: VecDeque<Rc<[u8]>>,
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
                if let Some(relayed) = from_log(&line) {
                    if relayed.len() <= max_line + 200 {
                        h.keep([relayed, b"\n"].concat().into());
                    }
                }
            }
            h.file = Some(file);
        }
        Ok(h)
    }

    fn keep(&mut self, line: Rc<[u8]>) {
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
    pub fn relayed(&mut self, line: &[u8], now: SystemTime) {
        if let Some(f) = &mut self.file {
            let ts = humantime::format_rfc3339_seconds(now).to_string();
            let _ = f.write_all(&[ts.as_bytes(), b" ", line].concat());
        }
        self.keep(line.into());
    }

    /// The lines a joining member is told, oldest first.
    pub fn lines(&self) -> impl ExactSizeIterator<Item = &Rc<[u8]>> {
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
    fn the_three_words_and_nothing_else() {
        assert_eq!(command(b"/nick bob"), Some(Command::Nick(Some(b"bob"))));
        assert_eq!(command(b"/nick  bob  "), Some(Command::Nick(Some(b"bob"))));
        assert_eq!(command(b"/nick"), Some(Command::Nick(None)));
        assert_eq!(command(b"/nick   "), Some(Command::Nick(None)));
        assert_eq!(command(b"/nick a b"), Some(Command::Nick(Some(b"a b"))));
        assert_eq!(command(b"/who"), Some(Command::Who));
        assert_eq!(command(b"/who is here"), Some(Command::Who));
        assert_eq!(
            command(b"/msg bob hi there"),
            Some(Command::Msg {
                to: b"bob",
                text: b"hi there"
            })
        );
        assert_eq!(command(b"/msg bob"), Some(Command::MsgUsage));
        assert_eq!(command(b"/msg"), Some(Command::MsgUsage));
        for other in [
            &b"/nickname x"[..],
            b"/me waves",
            b"//nick x",
            b"nick",
            b"/NICK x",
            b" /who",
            b"",
        ] {
            assert_eq!(command(other), None, "{:?}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn names_follow_the_rules() {
        assert_eq!(check(b"bob"), Ok(()));
        assert_eq!(check("老王".as_bytes()), Ok(()));
        assert_eq!(
            check(&[0xC0, 0xCF, 0xCD, 0xF5]),
            Ok(()),
            "GBK bytes are a name too"
        );
        assert_eq!(check(&[b'x'; 32]), Ok(()));
        assert_eq!(check(&[b'x'; 33]), Err("too long (max 32 bytes)"));
        assert_eq!(check(b"a\x1bb"), Err("has a control character"));
        assert_eq!(check(b"a\x7f"), Err("has a control character"));
        for bad in [&b"<x"[..], b"x>", b"[x", b"x]", b"a@b"] {
            assert_eq!(check(bad), Err("has one of < > [ ] @"));
        }
    }

    #[test]
    fn names_are_unique_without_ascii_case_and_found_by_name_or_address() {
        let mut d: Directory<u32> = Directory::default();
        d.joined(1, "1.2.3.4:5");
        d.joined(2, "1.2.3.4:6");
        assert_eq!(d.rename(1, None, b"Bob"), Ok(()));
        assert_eq!(d.rename(2, None, b"bOB"), Err("in use"));
        assert_eq!(
            d.rename(1, Some(b"Bob"), b"BOB"),
            Ok(()),
            "one's own name in another case"
        );
        assert_eq!(d.find(b"bob"), Some(1));
        assert_eq!(d.find(b"1.2.3.4:6"), Some(2));
        assert_eq!(d.find(b"carol"), None);
        assert_eq!(d.rename(2, None, "老王".as_bytes()), Ok(()));
        assert_eq!(d.find("老王".as_bytes()), Some(2));
        d.left(1, "1.2.3.4:5", Some(b"BOB"));
        assert_eq!(d.find(b"bob"), None);
        assert_eq!(
            d.rename(2, Some("老王".as_bytes()), b"bob"),
            Ok(()),
            "free again"
        );
        assert_eq!(d.rename(2, Some(b"bob"), b"x y"), Err("has a space"));
        assert_eq!(d.find(b"bob"), Some(2), "a refused name keeps the old one");
    }

    #[test]
    fn history_keeps_the_last_n_and_the_log_remembers_them() {
        let dir = std::env::temp_dir().join(format!("lanchat-history-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chat.log");
        let _ = std::fs::remove_file(&path);
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_000_000);
        let mut h = History::open(3, Some(&path), 100).unwrap();
        for i in 0..5 {
            h.relayed(format!("<a@1.2.3.4:5> line {i}\n").as_bytes(), t);
        }
        let kept: Vec<&[u8]> = h.lines().map(|l| &l[..]).collect();
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
        let kept: Vec<&[u8]> = again.lines().map(|l| &l[..]).collect();
        assert_eq!(kept[0], b"<a@1.2.3.4:5> line 2\n");
        assert_eq!(kept.len(), 3);
        // Off: nothing kept, nothing told.
        let mut off = History::open(0, None, 100).unwrap();
        off.relayed(b"<x> y\n", t);
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
