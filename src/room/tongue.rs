//! Every member in its own encoding: what the room knows of a member's
//! encoding (its "tongue"), how it learns it, and how a line is written
//! for a member whose encoding differs from its sender's. Part of the
//! room's core: no I/O.
//!
//! ```text
//! first line with a byte ≥ 0x80 ──▶ UTF-8 (valid, with a 3- or 4-byte character) | GB18030
//! /encoding LABEL ──▶ that encoding;  /encoding bytes ──▶ its lines pass unchanged
//! entry (sender's tongue known, decodes cleanly) ──▶ per receiver whose tongue is known
//!                                                    and differs: decoded, re-encoded
//! ```
//!
//! Everything else passes as bytes, as the room always did: to a receiver
//! whose encoding is unknown, from a sender whose encoding is unknown, or a
//! line that does not decode in its sender's encoding.

use crate::encoding::Encoding;
use encoding_rs::{EncoderResult, GB18030, UTF_8};

/// What the room knows of a member's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tongue {
    /// Not yet known: no line with a byte ≥ 0x80 yet.
    #[default]
    Unknown,
    /// `/encoding bytes` (or `--relay-bytes`): its lines pass unchanged, and
    /// it is sent every line as it was sent.
    Bytes,
    /// Known.
    Known(&'static encoding_rs::Encoding),
}

impl Tongue {
    /// The encoding, when known.
    pub fn known(self) -> Option<&'static encoding_rs::Encoding> {
        match self {
            Tongue::Known(e) => Some(e),
            _ => None,
        }
    }

    /// The tongue `line` shows, by the `auto` rule, for a member whose
    /// tongue is not known yet: `None` while the line is ASCII.
    pub fn learn(line: &[u8]) -> Option<Tongue> {
        if line.is_ascii() {
            return None;
        }
        let e = if crate::encoding::looks_utf8(line) {
            UTF_8
        } else {
            GB18030
        };
        Some(Tongue::Known(e))
    }

    /// The tongue `/encoding LABEL` names (`bytes`, or any label `-e`
    /// takes that text can be written in).
    pub fn named(label: &str) -> Option<Tongue> {
        if label.eq_ignore_ascii_case("bytes") {
            return Some(Tongue::Bytes);
        }
        match Encoding::for_encoding(label) {
            Ok(Encoding::Label { encoding, .. }) => Some(Tongue::Known(encoding)),
            _ => None,
        }
    }

    /// How `! encoding: NAME` names it.
    pub fn name(self) -> &'static str {
        match self {
            Tongue::Unknown => "unknown",
            Tongue::Bytes => "bytes",
            Tongue::Known(e) => e.name(),
        }
    }
}

/// The encoding an entry's bytes are in, for re-encoding: `Some` only when
/// the sender's tongue is known, the bytes are not plain ASCII (ASCII reads
/// the same everywhere) and they decode cleanly in it.
pub fn source(bytes: &[u8], tongue: Tongue) -> Option<&'static encoding_rs::Encoding> {
    let e = tongue.known()?;
    if bytes.is_ascii() {
        return None;
    }
    e.decode_without_bom_handling_and_without_replacement(bytes)
        .map(|_| e)
}

/// `bytes` (in `from`, decoding cleanly) written in `to`: a character `to`
/// cannot write becomes `\u{1F600}`. `None` when the bytes do not decode.
pub fn convert(
    bytes: &[u8],
    from: &'static encoding_rs::Encoding,
    to: &'static encoding_rs::Encoding,
) -> Option<Vec<u8>> {
    let text = from.decode_without_bom_handling_and_without_replacement(bytes)?;
    Some(encode(&text, to))
}

/// `bytes` written by a member in `from` as a member in `to` reads them:
/// re-encoded when both are known, differ, and the bytes are not ASCII and
/// decode cleanly; `None`: they pass as they are.
pub fn recode(bytes: &[u8], from: Tongue, to: Tongue) -> Option<Vec<u8>> {
    let to = to.known()?;
    let from = source(bytes, from).filter(|f| *f != to)?;
    convert(bytes, from, to)
}

/// Text written in `to`, a character it cannot write as `\u{1F600}`.
pub fn encode(text: &str, to: &'static encoding_rs::Encoding) -> Vec<u8> {
    if to == UTF_8 {
        return text.as_bytes().to_vec();
    }
    let mut out = Vec::with_capacity(text.len() + 8);
    let mut encoder = to.new_encoder();
    let mut src = text;
    loop {
        let need = encoder
            .max_buffer_length_from_utf8_without_replacement(src.len())
            .unwrap_or(src.len() * 4 + 16);
        out.reserve(need.max(12));
        let (result, read) =
            encoder.encode_from_utf8_to_vec_without_replacement(src, &mut out, true);
        src = &src[read..];
        match result {
            EncoderResult::InputEmpty => return out,
            EncoderResult::OutputFull => {}
            EncoderResult::Unmappable(ch) => {
                out.extend_from_slice(format!("\\u{{{:X}}}", ch as u32).as_bytes());
            }
        }
    }
}

/// A name as names are compared: as text when its member's encoding is
/// known (so `老王` typed in GBK and in UTF-8 is one name), else its bytes;
/// ASCII letters folded either way.
pub fn name_key(name: &[u8], tongue: Tongue) -> Vec<u8> {
    let text = tongue
        .known()
        .and_then(|e| e.decode_without_bom_handling_and_without_replacement(name));
    match text {
        Some(t) => t.as_bytes().to_ascii_lowercase(),
        None => name.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_auto_rule() {
        assert_eq!(Tongue::learn(b"hello"), None);
        assert_eq!(Tongue::learn("你好".as_bytes()), Some(Tongue::Known(UTF_8)));
        // GBK 你好.
        assert_eq!(
            Tongue::learn(&[0xC4, 0xE3, 0xBA, 0xC3]),
            Some(Tongue::Known(GB18030))
        );
        // GBK 一 (D2 BB) is valid two-byte UTF-8: not enough for UTF-8.
        assert_eq!(Tongue::learn(&[0xD2, 0xBB]), Some(Tongue::Known(GB18030)));
        assert_eq!(Tongue::learn("é".as_bytes()), Some(Tongue::Known(GB18030)));
        assert_eq!(Tongue::named("bytes"), Some(Tongue::Bytes));
        assert_eq!(Tongue::named("utf-8"), Some(Tongue::Known(UTF_8)));
        assert_eq!(
            Tongue::named("gb2312"),
            Some(Tongue::Known(encoding_rs::GBK))
        );
        assert_eq!(Tongue::named("klingon"), None);
        assert_eq!(Tongue::named("auto"), None);
        assert_eq!(Tongue::Known(GB18030).name(), "gb18030");
    }

    #[test]
    fn lines_are_re_encoded_and_what_cannot_be_written_is_escaped() {
        let gbk = [0xC4, 0xE3, 0xBA, 0xC3];
        assert_eq!(convert(&gbk, GB18030, UTF_8).unwrap(), "你好".as_bytes());
        assert_eq!(convert("你好".as_bytes(), UTF_8, GB18030).unwrap(), gbk);
        assert_eq!(
            convert("a😀b".as_bytes(), UTF_8, encoding_rs::GBK).unwrap(),
            b"a\\u{1F600}b"
        );
        assert_eq!(convert(&[0xFF, 0xFE, 0x80], UTF_8, GB18030), None);
        assert_eq!(source(b"ascii", Tongue::Known(UTF_8)), None);
        assert_eq!(source(&gbk, Tongue::Known(UTF_8)), None, "not UTF-8");
        assert_eq!(source(&gbk, Tongue::Known(GB18030)), Some(GB18030));
        assert_eq!(source(&gbk, Tongue::Unknown), None);
        assert_eq!(source(&gbk, Tongue::Bytes), None);
    }

    #[test]
    fn names_compare_as_text() {
        let gbk: &[u8] = &[0xC0, 0xCF, 0xCD, 0xF5]; // 老王
        assert_eq!(
            name_key(gbk, Tongue::Known(GB18030)),
            name_key("老王".as_bytes(), Tongue::Known(UTF_8))
        );
        assert_eq!(name_key(b"Bob", Tongue::Unknown), b"bob");
        assert_eq!(name_key(gbk, Tongue::Bytes), gbk.to_vec());
    }
}
