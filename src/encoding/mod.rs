//! Text encodings on the wire.
//!
//! An [`Encoding`] is parsed once from a WHATWG label (`gb2312`, `gbk`,
//! `utf-8`, `big5`, …) or `auto`, then used for every message:
//!
//! * [`Encoding::decode`] never fails: invalid bytes become U+FFFD and the
//!   result says whether any were found;
//! * [`Encoding::encode`] is strict: a character the encoding cannot represent
//!   is an error naming the character and its code point, never a silent `?`
//!   or an HTML `&#…;` reference.
//!
//! Note that the WHATWG label `gb2312` (like `gbk`) means GBK, the superset of
//! GB2312 that Windows machines in China actually send.

use rust_i18n::t;
use std::borrow::Cow;
use std::fmt;

use encoding_rs::{EncoderResult, GB18030, UTF_16BE, UTF_16LE, UTF_8};
use thiserror::Error;

mod gbk;

/// A text encoding chosen by the user.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// One encoding from the WHATWG Encoding Standard.
    Label {
        /// What the user typed, lowercased (shown in messages: `gb2312`).
        label: &'static str,
        /// The encoding it names.
        encoding: &'static encoding_rs::Encoding,
    },
    /// Decode only: strict UTF-8 when the bytes are valid UTF-8, else GB18030.
    Auto,
}

/// Labels kept as typed in messages (others show the canonical name).
const SHOWN_LABELS: &[&str] = &[
    "gb2312",
    "gbk",
    "gb18030",
    "utf-8",
    "utf8",
    "big5",
    "big5-hkscs",
    "shift_jis",
    "sjis",
    "euc-jp",
    "euc-kr",
    "iso-2022-jp",
    "utf-16le",
    "utf-16be",
    "utf-16",
    "latin1",
    "iso-8859-1",
    "windows-1252",
    "cp936",
    "x-gbk",
];

/// Labels shown when the user types an unknown one.
pub const EXAMPLE_LABELS: &str = "gb2312, gbk, gb18030, utf-8, big5, shift_jis, euc-kr, utf-16le";

/// Why a label was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum LabelError {
    /// Not a WHATWG label at all.
    #[error("{}", t!("encoding.unknown", label = .0, labels = EXAMPLE_LABELS))]
    Unknown(String),
    /// `auto` where text is encoded.
    #[error("{}", t!("encoding.auto_not_for_sending"))]
    AutoNotForEncoding,
    /// A WHATWG label that names no real encoding (`replacement`).
    #[error("{}", t!("encoding.not_encodable", label = .0, labels = EXAMPLE_LABELS))]
    NotEncodable(String),
}

/// Why a line could not be encoded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum EncodeError {
    /// A character outside the encoding's repertoire.
    #[error("{}", t!("encoding.unmappable", ch = .ch, code = format!("{:04X}", *.ch as u32), label = .label))]
    Unmappable {
        /// The first character that cannot be represented.
        ch: char,
        /// The encoding's label as the user typed it.
        label: &'static str,
    },
}

impl Encoding {
    /// Parses a label for decoding: any WHATWG label, or `auto`.
    ///
    /// # Errors
    /// [`LabelError::Unknown`] for a label that names no encoding.
    pub fn for_decoding(label: &str) -> Result<Encoding, LabelError> {
        let lower = label.trim().to_ascii_lowercase();
        if lower == "auto" {
            return Ok(Encoding::Auto);
        }
        Self::lookup(&lower, label)
    }

    /// Parses a label for encoding: a WHATWG label that names an encoding
    /// text can be written in.
    ///
    /// # Errors
    /// [`LabelError`] for `auto`, an unknown label or `replacement`.
    pub fn for_encoding(label: &str) -> Result<Encoding, LabelError> {
        let lower = label.trim().to_ascii_lowercase();
        if lower == "auto" {
            return Err(LabelError::AutoNotForEncoding);
        }
        let enc = Self::lookup(&lower, label)?;
        match enc {
            Encoding::Label { encoding, .. }
                if encoding.output_encoding() != encoding
                    && encoding != UTF_16LE
                    && encoding != UTF_16BE =>
            {
                Err(LabelError::NotEncodable(label.to_string()))
            }
            _ => Ok(enc),
        }
    }

    fn lookup(lower: &str, typed: &str) -> Result<Encoding, LabelError> {
        let encoding = encoding_rs::Encoding::for_label_no_replacement(lower.as_bytes())
            .ok_or_else(|| LabelError::Unknown(typed.to_string()))?;
        // Messages name the encoding as the user typed it where that is a
        // common label, else by its canonical name; either way a static str,
        // so `Encoding` stays `Copy` and parsing allocates nothing that lives on.
        let label = SHOWN_LABELS
            .iter()
            .find(|l| **l == lower)
            .copied()
            .unwrap_or_else(|| encoding.name());
        Ok(Encoding::Label { label, encoding })
    }

    /// The default of every binary: `gb2312` (GBK in practice).
    pub fn gb2312() -> Encoding {
        Encoding::Label {
            label: "gb2312",
            encoding: encoding_rs::GBK,
        }
    }

    /// The label as the user typed it (lowercased), or `auto`.
    pub fn label(&self) -> &'static str {
        match self {
            Encoding::Label { label, .. } => label,
            Encoding::Auto => "auto",
        }
    }

    /// Decodes bytes to text; invalid bytes become U+FFFD.
    ///
    /// Returns the text and whether any byte was invalid. No byte-order mark
    /// is sniffed or removed: the text is exactly what the bytes say.
    pub fn decode<'a>(&self, bytes: &'a [u8]) -> (Cow<'a, str>, bool) {
        match self {
            Encoding::Label { encoding, .. } => encoding.decode_without_bom_handling(bytes),
            Encoding::Auto => match std::str::from_utf8(bytes) {
                Ok(text) => (Cow::Borrowed(text), false),
                Err(_) => GB18030.decode_without_bom_handling(bytes),
            },
        }
    }

    /// Builds what decoding needs ahead of time (the GBK / GB18030 table
    /// of the fast path, about a millisecond), so the first message costs
    /// no more than the others. Without it, the first decode builds it.
    pub fn prepare(&self) {
        let encoding = match self {
            Encoding::Label { encoding, .. } => *encoding,
            Encoding::Auto => GB18030,
        };
        let _ = gbk::table_for(encoding);
    }

    /// Decodes bytes, replacing `out`'s contents, reusing its allocation.
    /// Returns whether any byte was invalid (shown as U+FFFD).
    ///
    /// GBK and GB18030 take a table-driven fast path (the `gbk` part of
    /// this module) as far as the text is ASCII and two-byte characters,
    /// then encoding_rs; the result is exactly what encoding_rs gives.
    pub fn decode_into(&self, bytes: &[u8], out: &mut String) -> bool {
        out.clear();
        let encoding = match self {
            Encoding::Label { encoding, .. } => *encoding,
            Encoding::Auto => match std::str::from_utf8(bytes) {
                Ok(text) => {
                    out.push_str(text);
                    return false;
                }
                Err(_) => GB18030,
            },
        };
        let done = match gbk::table_for(encoding) {
            Some(table) => gbk::decode_prefix(table, bytes, out),
            None => 0,
        };
        done < bytes.len() && decode_append(encoding, &bytes[done..], out)
    }

    /// Encodes text strictly, appending the bytes to `out`.
    ///
    /// # Errors
    /// [`EncodeError::Unmappable`] naming the first character the encoding
    /// cannot represent; `out` is then left as it was.
    pub fn encode_into(&self, text: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let Encoding::Label { label, encoding } = *self else {
            // `for_encoding` refuses `auto`; treat it as UTF-8 if it slips in.
            out.extend_from_slice(text.as_bytes());
            return Ok(());
        };
        if encoding == UTF_8 {
            out.extend_from_slice(text.as_bytes());
            return Ok(());
        }
        if encoding == UTF_16LE || encoding == UTF_16BE {
            let big = encoding == UTF_16BE;
            for unit in text.encode_utf16() {
                out.extend_from_slice(&if big {
                    unit.to_be_bytes()
                } else {
                    unit.to_le_bytes()
                });
            }
            return Ok(());
        }
        let start = out.len();
        let mut encoder = encoding.new_encoder();
        let mut src = text;
        loop {
            let need = encoder
                .max_buffer_length_from_utf8_without_replacement(src.len())
                .unwrap_or(src.len() * 4 + 16);
            out.reserve(need);
            let (result, read) =
                encoder.encode_from_utf8_to_vec_without_replacement(src, out, true);
            src = &src[read..];
            match result {
                EncoderResult::InputEmpty => return Ok(()),
                EncoderResult::OutputFull => continue,
                EncoderResult::Unmappable(ch) => {
                    out.truncate(start);
                    return Err(EncodeError::Unmappable { ch, label });
                }
            }
        }
    }

    /// Encodes text strictly into a new buffer. See [`Encoding::encode_into`].
    ///
    /// # Errors
    /// [`EncodeError::Unmappable`] for a character the encoding cannot represent.
    pub fn encode(&self, text: &str) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(text.len());
        self.encode_into(text, &mut out)?;
        Ok(out)
    }
}

/// Decodes `src` with encoding_rs's decoder, appending to `out`; returns
/// whether any byte was malformed.
fn decode_append(
    encoding: &'static encoding_rs::Encoding,
    mut src: &[u8],
    out: &mut String,
) -> bool {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut malformed = false;
    loop {
        let need = decoder
            .max_utf8_buffer_length(src.len())
            .unwrap_or(src.len() * 3 + 16);
        out.reserve(need);
        let (result, read, errors) = decoder.decode_to_string(src, out, true);
        malformed |= errors;
        src = &src[read..];
        if result == encoding_rs::CoderResult::InputEmpty {
            return malformed;
        }
    }
}

impl fmt::Debug for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Encoding({})", self.label())
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Whether bytes that carry no label of their encoding read as UTF-8
/// rather than GBK (IP Messenger peers that write UTF-8 without saying
/// so): plain ASCII, or valid UTF-8 with at least one character of three or
/// four bytes (every CJK character is one). Valid UTF-8 made of two-byte
/// characters alone is taken for GBK: a GBK pair with a lead byte of
/// 0xC2–0xDF and a trail byte of 0x80–0xBF is valid UTF-8 (一 in GBK,
/// `D2 BB`, reads as Cyrillic һ), and on a Chinese LAN GBK is far likelier
/// than Cyrillic or Greek written without a label.
pub fn looks_utf8(bytes: &[u8]) -> bool {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.is_ascii() || s.chars().any(|c| c.len_utf8() >= 3),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gb2312_round_trips_chinese() {
        let enc = Encoding::for_encoding("gb2312").unwrap();
        let bytes = enc.encode("你好").unwrap();
        assert_eq!(bytes, vec![0xC4, 0xE3, 0xBA, 0xC3]);
        let (text, bad) = enc.decode(&bytes);
        assert_eq!(text, "你好");
        assert!(!bad);
    }

    #[test]
    fn gb2312_label_accepts_gbk_only_characters() {
        // 镕 is in GBK but not in GB2312; Windows sends it as GBK.
        let enc = Encoding::for_encoding("GB2312").unwrap();
        let bytes = enc.encode("镕").unwrap();
        assert_eq!(enc.decode(&bytes).0, "镕");
    }

    #[test]
    fn unmappable_character_is_named_with_code_point() {
        let enc = Encoding::for_encoding("gb2312").unwrap();
        let err = enc.encode("ok 😀 no").unwrap_err();
        assert_eq!(
            err,
            EncodeError::Unmappable {
                ch: '😀',
                label: "gb2312"
            }
        );
        let msg = err.to_string();
        assert!(msg.contains("U+1F600"), "{msg}");
        assert!(msg.contains("gb18030"), "{msg}");
        assert!(msg.contains("utf-8"), "{msg}");
    }

    #[test]
    fn gb18030_encodes_everything() {
        let enc = Encoding::for_encoding("gb18030").unwrap();
        let bytes = enc.encode("😀").unwrap();
        assert_eq!(enc.decode(&bytes).0, "😀");
    }

    #[test]
    fn invalid_bytes_become_replacement_and_are_reported() {
        let enc = Encoding::gb2312();
        let (text, bad) = enc.decode(&[b'a', 0xFF, b'b']);
        assert_eq!(text, "a\u{FFFD}b");
        assert!(bad);
    }

    #[test]
    fn decode_into_matches_decode() {
        let mut buf = String::from("old");
        for enc in [
            Encoding::gb2312(),
            Encoding::Auto,
            Encoding::for_decoding("utf-8").unwrap(),
        ] {
            for bytes in [
                &[0xC4, 0xE3, 0xBA, 0xC3][..],
                b"plain",
                &[b'a', 0xFF, 0x80],
                b"",
            ] {
                let (want, bad) = enc.decode(bytes);
                assert_eq!(enc.decode_into(bytes, &mut buf), bad);
                assert_eq!(buf, want);
            }
        }
    }

    #[test]
    fn unlabelled_bytes_are_utf8_only_when_they_look_it() {
        assert!(looks_utf8(b"report.txt"));
        assert!(looks_utf8("一.txt".as_bytes()));
        assert!(looks_utf8("共享夹 😀".as_bytes()));
        let gbk = |s: &str| encoding_rs::GBK.encode(s).0.into_owned();
        assert!(!looks_utf8(&gbk("一.txt")), "D2 BB is valid UTF-8, yet GBK");
        assert!(!looks_utf8(&gbk("共享夹")));
        assert!(!looks_utf8(&gbk("飞秋用户的文件")));
        assert!(
            !looks_utf8("Ωμέγα".as_bytes()),
            "two-byte UTF-8 alone: taken for GBK"
        );
    }

    #[test]
    fn auto_reads_utf8_and_gbk() {
        let auto = Encoding::for_decoding("auto").unwrap();
        assert_eq!(auto.decode("你好".as_bytes()).0, "你好");
        assert_eq!(auto.decode(&[0xC4, 0xE3, 0xBA, 0xC3]).0, "你好");
    }

    #[test]
    fn auto_is_refused_for_sending() {
        assert_eq!(
            Encoding::for_encoding("auto"),
            Err(LabelError::AutoNotForEncoding)
        );
    }

    #[test]
    fn unknown_label_lists_valid_ones() {
        let err = Encoding::for_decoding("klingon").unwrap_err();
        assert!(err.to_string().contains("gb18030"));
        assert!(Encoding::for_encoding("replacement").is_err());
    }

    #[test]
    fn label_as_typed_or_canonical_name() {
        assert_eq!(Encoding::for_decoding("GB2312").unwrap().label(), "gb2312");
        assert_eq!(Encoding::for_decoding(" sjis ").unwrap().label(), "sjis");
        // An uncommon label shows the encoding's canonical name.
        assert_eq!(Encoding::for_decoding("csgb2312").unwrap().label(), "GBK");
    }

    #[test]
    fn utf16_encodes() {
        let enc = Encoding::for_encoding("utf-16le").unwrap();
        assert_eq!(enc.encode("A").unwrap(), vec![0x41, 0]);
        let enc = Encoding::for_encoding("utf-16be").unwrap();
        assert_eq!(enc.encode("A").unwrap(), vec![0, 0x41]);
    }

    #[test]
    fn big5_and_shift_jis_round_trip() {
        for (label, text) in [("big5", "中文"), ("shift_jis", "日本語")] {
            let enc = Encoding::for_encoding(label).unwrap();
            let bytes = enc.encode(text).unwrap();
            assert_eq!(enc.decode(&bytes).0, text, "{label}");
        }
    }
}
