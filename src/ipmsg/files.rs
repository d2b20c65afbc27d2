//! Files and folders over IP Messenger: the formats, with no I/O (the
//! transfers themselves are [`crate::transport::transfers`]).
//!
//! * the **attachment list** an offer carries after its message's NUL:
//!   `ID:NAME:SIZE:MTIME:ATTR:` and `\a` per item (ID decimal; SIZE, MTIME,
//!   ATTR hex; a `:` in a name doubled). Read leniently: the separator may
//!   be `\a`, `:\a`, `\a:` or `:\a:` (IPMsg for Windows, FeiQ and iptux
//!   differ), and extension fields after ATTR are skipped;
//! * the **requests** a receiver sends over TCP: GETFILEDATA
//!   (`PACKETNO:ID:OFFSET`, hex) and GETDIRFILES (`PACKETNO:ID`, hex);
//! * the **folder stream** GETDIRFILES is answered with:
//!   `HEADERSIZE:NAME:SIZE:ATTR[:ext]:` headers (hex; HEADERSIZE counts from
//!   the header's first byte to its last `:`), each file's bytes after its
//!   header, ATTR 2 entering a folder, ATTR 3 (name `.`) leaving it;
//! * **safe names**: whatever a peer calls a file, one safe file name on
//!   every OS, and never a path.

use rust_i18n::t;
use std::fmt::Write as _;

/// GETFILEDATA: ask for a file's bytes (TCP).
pub const GETFILEDATA: u32 = 0x60;
/// RELEASEFILES: an offer is declined or over (UDP; extra: its packet number).
pub const RELEASEFILES: u32 = 0x61;
/// GETDIRFILES: ask for a folder's stream (TCP).
pub const GETDIRFILES: u32 = 0x62;

/// ATTR of a regular file.
pub const ATTR_FILE: u32 = 1;
/// ATTR of a folder.
pub const ATTR_DIR: u32 = 2;
/// ATTR of "back to the parent folder" in a folder stream.
pub const ATTR_UP: u32 = 3;

/// Items of one offer read at most (a hostile list).
pub const MAX_ITEMS: usize = 1000;
/// Folders nested at most in a stream.
pub const MAX_DEPTH: usize = 32;
/// Entries (files and folders) in one stream at most.
pub const MAX_ENTRIES: usize = 100_000;
/// The longest stream header taken.
pub const MAX_HEADER: usize = 8192;
/// The longest file name, in bytes, a `.part` suffix included.
pub const NAME_MAX: usize = 255;

/// One item of an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Its ID in the offer.
    pub id: u64,
    /// Its name, as the peer gave it (not safe yet: see [`safe_name`]).
    pub name: String,
    /// Bytes (a folder: the total of its contents, as offered).
    pub size: u64,
    /// Modification time (seconds since 1970), as offered.
    pub mtime: u64,
    /// ATTR: [`ATTR_FILE`] or [`ATTR_DIR`] in the low byte.
    pub attr: u32,
}

impl Item {
    /// Whether it is a folder.
    pub fn is_dir(&self) -> bool {
        self.attr & 0xff == ATTR_DIR
    }
}

/// A name for a list or a header: every `:` doubled.
fn escape(name: &str) -> String {
    name.replace(':', "::")
}

/// The attachment list of `items`.
pub fn build_list(items: &[Item]) -> String {
    let mut out = String::new();
    for i in items {
        let _ = write!(
            out,
            "{}:{}:{:x}:{:x}:{:x}:\x07",
            i.id,
            escape(&i.name),
            i.size,
            i.mtime,
            i.attr
        );
    }
    out
}

/// Splits `text` at single `:` (a doubled `::` is a `:` of a name);
/// at most `max` fields, the rest left in the last.
fn fields(text: &str, max: usize) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if out.len() == max {
            out.last_mut().expect("one field").push(c);
            continue;
        }
        if c == ':' {
            if chars.peek() == Some(&':') {
                chars.next();
                out.last_mut().expect("one field").push(':');
            } else {
                out.push(String::new());
            }
        } else {
            out.last_mut().expect("one field").push(c);
        }
    }
    out
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.trim(), 16).ok()
}

/// The items of an attachment list; malformed entries are skipped, at
/// most [`MAX_ITEMS`] are read.
pub fn parse_list(text: &str) -> Vec<Item> {
    let mut out = Vec::new();
    for entry in text.split('\x07') {
        if out.len() == MAX_ITEMS {
            break;
        }
        let entry = entry.trim_start_matches(':');
        if entry.trim().is_empty() {
            continue;
        }
        let f = fields(entry, 6);
        if f.len() < 5 {
            continue;
        }
        let (Some(id), Some(size), Some(attr)) = (f[0].trim().parse().ok(), hex(&f[2]), hex(&f[4]))
        else {
            continue;
        };
        let Ok(attr) = u32::try_from(attr) else {
            continue;
        };
        if !matches!(attr & 0xff, ATTR_FILE | ATTR_DIR) || f[1].is_empty() {
            continue;
        }
        out.push(Item {
            id,
            name: f[1].clone(),
            size,
            mtime: hex(&f[3]).unwrap_or(0),
            attr,
        });
    }
    out
}

/// A TCP request, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// [`GETFILEDATA`] or [`GETDIRFILES`].
    pub command: u32,
    /// The offer's packet number.
    pub packet: u64,
    /// The item's ID as written: read as hex, and as decimal, by the caller.
    pub id: String,
    /// Where to start (GETFILEDATA).
    pub offset: u64,
}

impl Request {
    /// The IDs the request may mean: hex first (as IPMsg writes it), then
    /// decimal (as some peers do).
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        hex(&self.id)
            .into_iter()
            .chain(self.id.trim().parse::<u64>().ok())
    }
}

/// Whether `buf` holds a whole request yet: a NUL, or the colons of
/// `1:NO:USER:HOST:CMD:PACKET:ID:OFFSET` (peers such as iptux send no
/// NUL: they count colons too), or more than a request can be.
pub fn request_complete(buf: &[u8]) -> bool {
    buf.contains(&0) || buf.iter().filter(|&&c| c == b':').count() >= 8 || buf.len() > 4096
}

/// Parses a TCP request (`1:NO:USER:HOST:CMD:PACKET:ID[:OFFSET][:]`).
pub fn parse_request(buf: &[u8]) -> Option<Request> {
    let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    let text = String::from_utf8_lossy(&buf[..end]);
    let f: Vec<&str> = text.split(':').collect();
    if f.len() < 7 || !(f[0] == "1" || f[0].starts_with("1_")) {
        return None;
    }
    let command = u32::try_from(f[4].trim().parse::<u64>().ok()? & 0xff).ok()?;
    if command != GETFILEDATA && command != GETDIRFILES {
        return None;
    }
    let offset = match f.get(7) {
        Some(o) if !o.trim().is_empty() => hex(o)?,
        _ => 0,
    };
    Some(Request {
        command,
        packet: hex(f[5])?,
        id: f[6].trim().to_string(),
        offset,
    })
}

/// The extra of a request: `PACKET:ID:OFFSET` (GETFILEDATA) or
/// `PACKET:ID:0` (GETDIRFILES), all hex.
pub fn request_extra(packet: u64, id: u64, offset: u64) -> String {
    format!("{packet:x}:{id:x}:{offset:x}")
}

/// A folder stream header: `HEADERSIZE:NAME:SIZE:ATTR:` (NAME in the
/// stream's encoding, its `:` doubled).
pub fn header(name: &[u8], size: u64, attr: u32) -> Vec<u8> {
    let mut name_esc = Vec::with_capacity(name.len());
    for &c in name {
        name_esc.push(c);
        if c == b':' {
            name_esc.push(b':');
        }
    }
    let rest = format!(":{size:x}:{attr:x}:");
    let body = name_esc.len() + rest.len() + 1; // +1: the ':' after HEADERSIZE
                                                // HEADERSIZE counts itself: find the width that fits.
    let mut width = 4;
    while format!("{:0width$x}", body + width, width = width).len() > width {
        width += 1;
    }
    let mut out = format!("{:0width$x}:", body + width, width = width).into_bytes();
    out.extend_from_slice(&name_esc);
    out.extend_from_slice(rest.as_bytes());
    out
}

/// What a folder stream says, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry<'a> {
    /// Into a folder of this name (raw bytes, not safe yet).
    Dir(&'a [u8]),
    /// A file of this name and size; its bytes follow as [`Entry::Data`].
    File(&'a [u8], u64),
    /// Bytes of the file begun.
    Data(&'a [u8]),
    /// The file begun is whole.
    FileEnd,
    /// Back to the parent folder; [`Entry::Done`] follows when the
    /// stream's own folder is left.
    Up,
    /// The stream's folder is whole.
    Done,
}

/// Why a folder stream was given up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// A header that cannot be read.
    #[error("{}", t!("files.stream_header"))]
    Header,
    /// Deeper than [`MAX_DEPTH`].
    #[error("{}", t!("files.stream_deep", max = MAX_DEPTH))]
    TooDeep,
    /// More than [`MAX_ENTRIES`].
    #[error("{}", t!("files.stream_many", max = MAX_ENTRIES))]
    TooMany,
    /// It left its own folder, or began with something else.
    #[error("{}", t!("files.stream_climbs"))]
    Climbs,
}

/// Reads a folder stream fed in pieces of any size. File bytes are handed
/// on as they come, not copied; only headers are gathered.
#[derive(Debug, Default)]
pub struct Stream {
    head: Vec<u8>,
    /// The header's size, once its first field is read.
    head_size: Option<usize>,
    /// Bytes of the current file (or skipped entry) still to come.
    left: u64,
    /// Whether those bytes are a file's (else they are skipped).
    in_file: bool,
    depth: usize,
    entries: usize,
    started: bool,
    done: bool,
}

impl Stream {
    /// A stream not begun.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the stream's folder is whole.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Feeds bytes; calls `f` with what they say.
    ///
    /// # Errors
    /// [`StreamError`] when the stream breaks a rule; nothing after it is
    /// read.
    pub fn push(
        &mut self,
        mut data: &[u8],
        mut f: impl FnMut(Entry<'_>),
    ) -> Result<(), StreamError> {
        loop {
            if self.left > 0 {
                if data.is_empty() {
                    return Ok(());
                }
                let take = data
                    .len()
                    .min(usize::try_from(self.left).unwrap_or(usize::MAX));
                if self.in_file {
                    f(Entry::Data(&data[..take]));
                }
                self.left -= take as u64;
                data = &data[take..];
                if self.left == 0 && self.in_file {
                    self.in_file = false;
                    f(Entry::FileEnd);
                }
                continue;
            }
            if data.is_empty() {
                return Ok(());
            }
            if self.done {
                // What follows the end is not read: a file beside the
                // folder would be outside it. (Whatever the pieces, the
                // same: the folder is whole.)
                return Ok(());
            }
            match self.head_size {
                None => {
                    // HEADERSIZE: up to the first ':'.
                    match data.iter().position(|&c| c == b':') {
                        Some(colon) => {
                            self.head.extend_from_slice(&data[..=colon]);
                            data = &data[colon + 1..];
                            let digits = &self.head[..self.head.len() - 1];
                            let size = std::str::from_utf8(digits)
                                .ok()
                                .and_then(hex)
                                .and_then(|s| usize::try_from(s).ok())
                                .filter(|&s| s > self.head.len() && s <= MAX_HEADER)
                                .ok_or(StreamError::Header)?;
                            self.head_size = Some(size);
                        }
                        None => {
                            self.head.extend_from_slice(data);
                            if self.head.len() > 16 {
                                return Err(StreamError::Header);
                            }
                            return Ok(());
                        }
                    }
                }
                Some(size) => {
                    let want = size - self.head.len();
                    let take = want.min(data.len());
                    self.head.extend_from_slice(&data[..take]);
                    data = &data[take..];
                    if self.head.len() < size {
                        return Ok(());
                    }
                    let head = std::mem::take(&mut self.head);
                    self.head_size = None;
                    let first = head.iter().position(|&c| c == b':').unwrap_or(0);
                    self.entry(&head[first + 1..], &mut f)?;
                }
            }
        }
    }

    fn entry(&mut self, head: &[u8], f: &mut impl FnMut(Entry<'_>)) -> Result<(), StreamError> {
        // NAME:SIZE:ATTR[:ext…]: with "::" a ':' of NAME.
        let mut name = Vec::new();
        let mut i = 0;
        while i < head.len() {
            if head[i] == b':' {
                if head.get(i + 1) == Some(&b':') {
                    name.push(b':');
                    i += 2;
                    continue;
                }
                break;
            }
            name.push(head[i]);
            i += 1;
        }
        let rest = head.get(i + 1..).ok_or(StreamError::Header)?;
        let text = String::from_utf8_lossy(rest);
        let mut parts = text.split(':');
        let size = parts.next().and_then(hex).ok_or(StreamError::Header)?;
        let attr = parts.next().and_then(hex).ok_or(StreamError::Header)? & 0xff;
        self.entries += 1;
        if self.entries > MAX_ENTRIES {
            return Err(StreamError::TooMany);
        }
        match u32::try_from(attr).unwrap_or(0) {
            ATTR_DIR => {
                self.started = true;
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(StreamError::TooDeep);
                }
                f(Entry::Dir(&name));
            }
            ATTR_UP => {
                if self.depth == 0 {
                    return Err(StreamError::Climbs);
                }
                self.depth -= 1;
                f(Entry::Up);
                if self.depth == 0 {
                    self.done = true;
                    f(Entry::Done);
                }
            }
            ATTR_FILE => {
                if !self.started {
                    return Err(StreamError::Climbs);
                }
                f(Entry::File(&name, size));
                self.left = size;
                self.in_file = size > 0;
                if size == 0 {
                    f(Entry::FileEnd);
                }
            }
            // Links, devices and the like: their bytes (if any) are skipped.
            _ => {
                self.left = size;
                self.in_file = false;
            }
        }
        Ok(())
    }
}

/// Characters no file name may hold on Windows (or anywhere, for `/`).
const FORBIDDEN: &[char] = &['/', '\\', ':', '*', '?', '"', '<', '>', '|'];

/// Names Windows keeps for devices, whatever their extension.
const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// One safe file name for whatever a peer called a file: path separators,
/// `..`, control characters and the characters Windows forbids become `_`;
/// a Windows device name (`CON`, `nul.txt`) gets a `_` in front; trailing
/// dots and spaces (which Windows drops) go; at most [`NAME_MAX`] bytes
/// with room for `.part` (the extension kept where it fits). Never empty,
/// never a path, the same on every OS.
pub fn safe_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_control() || FORBIDDEN.contains(&c) || crate::sanitize::needs_escape(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    while s.ends_with(['.', ' ']) {
        s.pop();
    }
    let s = s.trim_start_matches(' ').to_string();
    let mut s = if s.is_empty() || s.chars().all(|c| c == '.') {
        "_".to_string()
    } else {
        s
    };
    let stem = s
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end()
        .to_ascii_uppercase();
    if RESERVED.contains(&stem.as_str()) {
        s.insert(0, '_');
    }
    fit(&s, NAME_MAX - ".part".len())
}

/// `name` cut to at most `max` bytes at a character boundary, keeping its
/// extension (a short one) where it fits.
fn fit(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_string();
    }
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot <= 16 => (&name[..dot], &name[dot..]),
        _ => (name, ""),
    };
    let mut cut = max.saturating_sub(ext.len());
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{ext}", &stem[..cut])
}

/// `name`, or `name (1)`, `name (2)`… (before the extension): the first
/// for which `taken` says no.
pub fn unique_name(name: &str, taken: impl Fn(&str) -> bool) -> String {
    (0u32..)
        .map(|k| numbered(name, k))
        .find(|candidate| !taken(candidate))
        .expect("some number is free")
}

/// The `k`-th choice of a name: `name` itself (0), then `name (1)`,
/// `name (2)`… before the extension, each at most [`NAME_MAX`] bytes with
/// `.part`.
pub fn numbered(name: &str, k: u32) -> String {
    if k == 0 {
        return name.to_string();
    }
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 => (&name[..dot], &name[dot..]),
        _ => (name, ""),
    };
    let suffix = format!(" ({k}){ext}");
    format!(
        "{}{suffix}",
        fit(stem, NAME_MAX - ".part".len() - suffix.len())
    )
}

/// A size as people read it: `900 B`, `2.3 KB`, `12 MB`, `1.1 GB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else if v < 10.0 {
        format!("{v:.1} {}", UNITS[u])
    } else {
        format!("{v:.0} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: u64, name: &str, size: u64, attr: u32) -> Item {
        Item {
            id,
            name: name.into(),
            size,
            mtime: 0x6543_2100,
            attr,
        }
    }

    #[test]
    fn the_attachment_list_round_trips_with_escaped_colons() {
        let items = vec![
            item(0, "报告.docx", 0x123456, ATTR_FILE),
            item(1, "a:b", 10, ATTR_FILE),
            item(2, "图片", 12_000_000, ATTR_DIR),
        ];
        let list = build_list(&items);
        assert_eq!(
            list,
            "0:报告.docx:123456:65432100:1:\x071:a::b:a:65432100:1:\x072:图片:b71b00:65432100:2:\x07"
        );
        assert_eq!(parse_list(&list), items);
    }

    #[test]
    fn lists_of_iptux_ipmsg_and_feiq_are_read() {
        // iptux: decimal IDs from 10000, ":\a:" between items.
        let iptux = "10000:notes.txt:1f:65000000:1:\x07:10001:pics:0:65000000:2:\x07:";
        let got = parse_list(iptux);
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].id, got[0].size, got[1].is_dir()),
            (10000, 0x1f, true)
        );
        // IPMsg for Windows: extension fields after ATTR, "\a" alone.
        let ipmsg = "0:a.zip:10:5f5e1000:1:14=5f5e1000:16=5f5e1000:\x071:b:0:0:2:\x07";
        let got = parse_list(ipmsg);
        assert_eq!(
            (got[0].name.as_str(), got[0].size, got.len()),
            ("a.zip", 16, 2)
        );
        // Garbage is skipped, the rest read.
        let bad = "x:y\x07:1:ok.txt:5:0:1:\x072:no-attr:5:0:\x073:dev:5:0:4:\x07";
        let got = parse_list(bad);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "ok.txt");
        // A hostile list is read up to MAX_ITEMS.
        let many: String = (0..5000).map(|i| format!("{i}:f{i}:1:0:1:\x07")).collect();
        assert_eq!(parse_list(&many).len(), MAX_ITEMS);
    }

    #[test]
    fn requests_are_read_by_colons_with_or_without_a_nul() {
        let iptux = b"1_iptux 0.8.3:5:root:vm:2097248:a:2710:0:";
        assert!(request_complete(iptux));
        let r = parse_request(iptux).unwrap();
        assert_eq!((r.command, r.packet, r.offset), (GETFILEDATA, 0xa, 0));
        assert_eq!(r.ids().collect::<Vec<_>>(), vec![0x2710, 2710]);
        let ours = format!("1:9:me:pc:96:{}\0", request_extra(0x1234, 3, 0x100));
        assert!(request_complete(ours.as_bytes()));
        let r = parse_request(ours.as_bytes()).unwrap();
        assert_eq!((r.packet, r.offset), (0x1234, 0x100));
        assert_eq!(r.ids().next(), Some(3));
        let dir = parse_request(b"1:9:me:pc:98:1234:2:0:").unwrap();
        assert_eq!(dir.command, GETDIRFILES);
        assert!(!request_complete(b"1:9:me:pc:96:12"));
        assert_eq!(
            parse_request(b"1:9:me:pc:32:1:2:3:"),
            None,
            "not a file request"
        );
        assert_eq!(parse_request(b"hello"), None);
        assert_eq!(parse_request(b"1:9:me:pc:96:zz:2:0:"), None);
    }

    /// What a stream says, owned, with a file's data pieces joined.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Said {
        Dir(Vec<u8>),
        File(Vec<u8>, u64),
        Data(Vec<u8>),
        FileEnd,
        Up,
        Done,
    }

    fn read(stream: &[u8], chunk: usize) -> Result<Vec<Said>, StreamError> {
        let mut s = Stream::new();
        let mut out: Vec<Said> = Vec::new();
        for piece in stream.chunks(chunk.max(1)) {
            s.push(piece, |e| {
                let said = match e {
                    Entry::Dir(n) => Said::Dir(n.to_vec()),
                    Entry::File(n, size) => Said::File(n.to_vec(), size),
                    Entry::Data(d) => {
                        if let Some(Said::Data(prev)) = out.last_mut() {
                            prev.extend_from_slice(d);
                            return;
                        }
                        Said::Data(d.to_vec())
                    }
                    Entry::FileEnd => Said::FileEnd,
                    Entry::Up => Said::Up,
                    Entry::Done => Said::Done,
                };
                out.push(said);
            })?;
        }
        Ok(out)
    }

    #[test]
    fn a_folder_stream_round_trips_nested_whatever_the_pieces() {
        let mut s = header("图片".as_bytes(), 0, ATTR_DIR);
        s.extend(header(b"a:b.txt", 3, ATTR_FILE));
        s.extend(b"abc");
        s.extend(header(b"sub", 0, ATTR_DIR));
        s.extend(header(b"empty", 0, ATTR_FILE));
        s.extend(header(b"x", 2, ATTR_FILE));
        s.extend(b"xy");
        s.extend(header(b".", 0, ATTR_UP));
        s.extend(header(b".", 0, ATTR_UP));
        let want = vec![
            Said::Dir("图片".as_bytes().to_vec()),
            Said::File(b"a:b.txt".to_vec(), 3),
            Said::Data(b"abc".to_vec()),
            Said::FileEnd,
            Said::Dir(b"sub".to_vec()),
            Said::File(b"empty".to_vec(), 0),
            Said::FileEnd,
            Said::File(b"x".to_vec(), 2),
            Said::Data(b"xy".to_vec()),
            Said::FileEnd,
            Said::Up,
            Said::Up,
            Said::Done,
        ];
        for chunk in [1, 2, 3, 7, 100, 10_000] {
            assert_eq!(read(&s, chunk).unwrap(), want, "pieces of {chunk}");
        }
        // iptux's header: 4 hex digits, the size padded to 9, extensions.
        let iptux = b"0033:notes.txt:000000003:1:14=65000000:16=65000000:";
        let mut st = header(b"d", 0, ATTR_DIR);
        st.extend(iptux.iter().copied());
        st.extend(b"hey");
        st.extend(header(b".", 0, ATTR_UP));
        let got = read(&st, 5).unwrap();
        assert_eq!(got[1], Said::File(b"notes.txt".to_vec(), 3));
        assert_eq!(got[2], Said::Data(b"hey".to_vec()));
    }

    #[test]
    fn a_hostile_folder_stream_is_given_up_at_the_rule_it_breaks() {
        // Climbing above its own folder: what follows the end is not read.
        let mut s = header(b"d", 0, ATTR_DIR);
        s.extend(header(b".", 0, ATTR_UP));
        s.extend(header(b".", 0, ATTR_UP));
        s.extend(header(b"outside", 3, ATTR_FILE));
        s.extend(b"bad");
        for chunk in [1, 4, 1000] {
            let got = read(&s, chunk).unwrap();
            assert_eq!(got.last(), Some(&Said::Done), "pieces of {chunk}");
            assert!(!got.iter().any(|e| matches!(e, Said::File(..))));
        }
        assert_eq!(read(&header(b".", 0, ATTR_UP), 4), Err(StreamError::Climbs));
        assert_eq!(
            read(&header(b"f", 1, ATTR_FILE), 4),
            Err(StreamError::Climbs)
        );
        // Too deep.
        let deep: Vec<u8> = (0..40).flat_map(|_| header(b"d", 0, ATTR_DIR)).collect();
        assert_eq!(read(&deep, 100), Err(StreamError::TooDeep));
        // Too many entries.
        let mut many = header(b"d", 0, ATTR_DIR);
        for _ in 0..MAX_ENTRIES {
            many.extend(header(b"f", 0, ATTR_FILE));
        }
        assert_eq!(read(&many, 1 << 20), Err(StreamError::TooMany));
        // Headers that lie about their size, or are not headers.
        assert_eq!(read(b"zzzz:name:0:2:", 3), Err(StreamError::Header));
        assert_eq!(read(b"0003:name:0:2:", 3), Err(StreamError::Header));
        assert_eq!(read(b"ffffff:name:0:2:", 3), Err(StreamError::Header));
        assert_eq!(read(&[b'1'; 40], 40), Err(StreamError::Header));
    }

    #[test]
    fn every_hostile_name_becomes_one_safe_file_name() {
        for (given, safe) in [
            ("report.docx", "report.docx"),
            ("报告 2026.docx", "报告 2026.docx"),
            ("../../etc/passwd", ".._.._etc_passwd"),
            ("..", "_"),
            (".", "_"),
            ("", "_"),
            ("/etc/passwd", "_etc_passwd"),
            ("C:\\Windows\\win.ini", "C__Windows_win.ini"),
            ("a\0b\x1b[31m\n", "a_b_[31m_"),
            ("bidi\u{202e}fdp.exe", "bidi_fdp.exe"),
            ("CON", "_CON"),
            ("nul.txt", "_nul.txt"),
            ("com1.tar.gz", "_com1.tar.gz"),
            ("console", "console"),
            ("trailing. . ", "trailing"),
            ("what?*<>|\"", "what______"),
            ("a:b", "a_b"),
        ] {
            assert_eq!(safe_name(given), safe, "{given:?}");
        }
        let long = format!("{}.txt", "长".repeat(200)); // 600 bytes
        let cut = safe_name(&long);
        assert!(cut.len() <= NAME_MAX - 5, "{}", cut.len());
        assert!(cut.ends_with(".txt"));
        assert!(cut.starts_with('长'));
        assert!(safe_name(&"x".repeat(1000)).len() <= 250);
    }

    /// Under Wine (CI runs the unit tests so) this is the Windows side:
    /// every safe name is a file of its own inside the folder.
    #[test]
    fn every_safe_name_is_one_file_inside_its_folder_on_this_os() {
        let dir = std::env::temp_dir().join(format!("lanchat-safe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let hostile = [
            "../../x",
            "..",
            "/abs",
            "C:\\w.ini",
            "D:rel",
            "\\\\srv\\share",
            "a\0b",
            "CON",
            "con.txt",
            "Prn",
            "AUX.tar.gz",
            "nul",
            "COM1",
            "lpt9.x",
            "dot.",
            "sp ",
            "\u{202e}x",
            "what?*<>|\"",
            &"长".repeat(120),
            &"x".repeat(300),
        ];
        let mut made = std::collections::HashSet::new();
        for name in hostile {
            let safe = safe_name(name);
            let path = dir.join(&safe);
            assert_eq!(path.parent(), Some(dir.as_path()), "{name:?} → {safe:?}");
            assert_eq!(
                path.file_name().and_then(|n| n.to_str()),
                Some(safe.as_str())
            );
            let part = dir.join(format!("{safe}.part"));
            std::fs::write(&part, name.as_bytes()).unwrap_or_else(|e| panic!("{safe:?}: {e}"));
            std::fs::rename(&part, &path).unwrap();
            // The file is that name, not a device or another file.
            assert_eq!(std::fs::read(&path).unwrap(), name.as_bytes(), "{safe:?}");
            made.insert(safe.to_ascii_lowercase());
        }
        let listed = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(listed, made.len());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_existing_name_gets_a_number() {
        let taken = ["a.txt", "a (1).txt", "dir"];
        let is = |n: &str| taken.contains(&n);
        assert_eq!(unique_name("b.txt", is), "b.txt");
        assert_eq!(unique_name("a.txt", is), "a (2).txt");
        assert_eq!(unique_name("dir", is), "dir (1)");
        let long = "y".repeat(250);
        let u = unique_name(&long, |n| n == long);
        assert!(u.ends_with(" (1)") && u.len() <= 250, "{}", u.len());
    }

    #[test]
    fn sizes_read_like_sizes() {
        assert_eq!(human_size(900), "900 B");
        assert_eq!(human_size(2_300), "2.3 KB");
        assert_eq!(human_size(12_000_000), "12 MB");
        assert_eq!(human_size(1_100_000_000), "1.1 GB");
    }
}
