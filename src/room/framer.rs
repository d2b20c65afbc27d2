//! Lines from a byte stream, with a length cap.
//!
//! TCP delivers bytes in arbitrary pieces; [`Framer::push`] turns them into
//! whole lines (without `\n` or `\r\n`), whatever the split. A line longer
//! than the cap is reported once as [`Frame::TooLong`] and its bytes are
//! dropped up to the next newline, so a hostile peer cannot make the buffer
//! grow past the cap. It is reported as soon as it is known to be too long:
//! at its newline, or, if none has come yet, once its bytes so far exceed the
//! cap by more than one (room for a `\r` before the `\n`).

/// One result of framing.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A whole line, without its line ending.
    Line(&'a [u8]),
    /// A line went over the cap; it is dropped up to the next newline.
    TooLong,
}

/// Splits a byte stream into capped lines.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    max: usize,
    discarding: bool,
    /// `buf` holds the line last returned by [`Framer::next`]; empty it
    /// before taking more bytes.
    returned: bool,
}

impl Framer {
    /// A framer for lines of at most `max` bytes (line ending excluded).
    pub fn new(max: usize) -> Self {
        Framer {
            buf: Vec::new(),
            max,
            discarding: false,
            returned: false,
        }
    }

    /// Feeds bytes; calls `f` for each whole line or over-long line.
    pub fn push(&mut self, mut data: &[u8], mut f: impl FnMut(Frame<'_>)) {
        while !data.is_empty() {
            let (used, frame) = self.next(data);
            if let Some(frame) = frame {
                f(frame);
            }
            data = &data[used..];
        }
    }

    /// Feeds bytes up to and including the first newline in `data` (all of
    /// `data` when it has none); returns how many bytes it took and the
    /// frame they completed, if any. At most one frame per call, so a
    /// caller can stop between lines (a throttled sender) and keep the
    /// rest of `data` for later.
    pub fn next<'a>(&'a mut self, data: &'a [u8]) -> (usize, Option<Frame<'a>>) {
        if self.returned {
            self.returned = false;
            self.buf.clear();
        }
        let newline = data.iter().position(|&b| b == b'\n');
        if self.discarding {
            return match newline {
                Some(pos) => {
                    self.discarding = false;
                    (pos + 1, None)
                }
                None => (data.len(), None),
            };
        }
        match newline {
            Some(pos) if self.buf.is_empty() => (pos + 1, Some(frame(&data[..pos], self.max))),
            Some(pos) => {
                self.buf.extend_from_slice(&data[..pos]);
                self.returned = true;
                (pos + 1, Some(frame(&self.buf, self.max)))
            }
            None => {
                // +1: a trailing '\r' of a "\r\n" split across reads.
                if self.buf.len() + data.len() > self.max + 1 {
                    self.buf.clear();
                    self.discarding = true;
                    (data.len(), Some(Frame::TooLong))
                } else {
                    self.buf.extend_from_slice(data);
                    (data.len(), None)
                }
            }
        }
    }

    /// The partial line held at end of stream, if any (not over the cap).
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        if self.returned {
            self.returned = false;
            self.buf.clear();
        }
        if self.discarding || self.buf.is_empty() {
            return None;
        }
        let line = std::mem::take(&mut self.buf);
        let line = strip_cr(&line).to_vec();
        (line.len() <= self.max).then_some(line)
    }

    /// Bytes held for an unfinished line.
    pub fn pending(&self) -> usize {
        if self.returned {
            0
        } else {
            self.buf.len()
        }
    }
}

/// The frame of one complete line, a trailing `\r` removed.
fn frame(line: &[u8], max: usize) -> Frame<'_> {
    let line = strip_cr(line);
    if line.len() > max {
        Frame::TooLong
    } else {
        Frame::Line(line)
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(max: usize, pieces: &[&[u8]]) -> Vec<Option<Vec<u8>>> {
        let mut fr = Framer::new(max);
        let mut out = Vec::new();
        for p in pieces {
            fr.push(p, |f| {
                out.push(match f {
                    Frame::Line(l) => Some(l.to_vec()),
                    Frame::TooLong => None,
                })
            });
        }
        out
    }

    #[test]
    fn whole_lines_whatever_the_split() {
        let want = vec![
            Some(b"hello".to_vec()),
            Some(b"".to_vec()),
            Some(b"world".to_vec()),
        ];
        assert_eq!(frames(100, &[b"hello\n\nworld\n"]), want);
        assert_eq!(
            frames(100, &[b"hel", b"lo\n", b"\nwor", b"ld\r", b"\n"]),
            want
        );
    }

    #[test]
    fn very_long_line_is_dropped_to_next_newline() {
        let long = vec![b'x'; 50];
        let got = frames(10, &[b"ok\n", &long, &long, b"tail\nnext\n"]);
        assert_eq!(
            got,
            vec![Some(b"ok".to_vec()), None, Some(b"next".to_vec())]
        );
        let got = frames(3, &[b"abcd\nabc\n"]);
        assert_eq!(got, vec![None, Some(b"abc".to_vec())]);
    }

    #[test]
    fn buffer_never_exceeds_cap() {
        let mut fr = Framer::new(8);
        for _ in 0..100 {
            fr.push(b"0123456789", |_| {});
            assert!(fr.pending() <= 9);
        }
    }

    #[test]
    fn next_takes_one_line_at_a_time_and_the_rest_can_wait() {
        let mut fr = Framer::new(10);
        let data = b"ab\r\ncd\nef";
        let (used, f) = fr.next(data);
        assert_eq!((used, f), (4, Some(Frame::Line(b"ab"))));
        // A caller that must stop here keeps data[4..] and feeds it later.
        let (used2, f) = fr.next(&data[4..]);
        assert_eq!((used2, f), (3, Some(Frame::Line(b"cd"))));
        let (used3, f) = fr.next(&data[7..]);
        assert_eq!((used3, f), (2, None));
        assert_eq!(fr.pending(), 2);
        // A line completed from held bytes comes from the framer's buffer.
        let (_, f) = fr.next(b"gh\n");
        assert_eq!(f, Some(Frame::Line(b"efgh")));
        assert_eq!(fr.pending(), 0);
        assert_eq!(fr.finish(), None);
    }

    #[test]
    fn partial_line_at_end() {
        let mut fr = Framer::new(10);
        fr.push(b"a\nbc", |_| {});
        assert_eq!(fr.finish(), Some(b"bc".to_vec()));
        assert_eq!(fr.finish(), None);
    }
}
