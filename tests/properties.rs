//! Property tests: hostile bytes through the decode + render path and the
//! room's line framer.

use std::net::SocketAddr;
use std::time::SystemTime;

use lanchat::encoding::Encoding;
use lanchat::message::{Format, Record, Renderer, Scratch};
use lanchat::room::framer::{Frame, Framer};
use lanchat::sanitize;
use proptest::prelude::*;

const LABELS: &[&str] = &[
    "gb2312",
    "gbk",
    "gb18030",
    "utf-8",
    "big5",
    "shift_jis",
    "euc-kr",
    "utf-16le",
    "utf-16be",
    "iso-8859-1",
    "windows-1252",
    "auto",
];

/// Bytes that hit the interesting cases often: controls, C1 and bidi
/// sequences in UTF-8, GBK lead bytes, newlines.
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    let pieces = prop_oneof![
        any::<u8>().prop_map(|b| vec![b]),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\x1b[31m".to_vec()),
        Just("\u{202e}".as_bytes().to_vec()),
        Just("\u{2066}".as_bytes().to_vec()),
        Just("\u{85}".as_bytes().to_vec()),
        Just("\u{2028}".as_bytes().to_vec()),
        Just(vec![0xC4, 0xE3]),
        Just(vec![0x81]),
        Just("你好".as_bytes().to_vec()),
    ];
    prop::collection::vec(pieces, 0..64).prop_map(|v| v.concat())
}

fn is_forbidden(ch: char) -> bool {
    matches!(ch,
        '\0'..='\x08' | '\x0a'..='\x1f' | '\x7f' | '\u{80}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn one_datagram_is_exactly_two_safe_lines_and_json_round_trips(
        bytes in hostile_bytes(),
        label in prop::sample::select(LABELS),
        timestamps in any::<bool>(),
    ) {
        let encoding = Encoding::for_decoding(label).unwrap();
        let from: SocketAddr = "[::1]:9".parse().unwrap();
        let now = SystemTime::now();
        let mut scratch = Scratch::default();

        let text_mode = Renderer { encoding, format: Format::Text, timestamps };
        let mut out = String::new();
        let mut log = String::new();
        text_mode.render(&mut out, Some(&mut log), &mut scratch, from, &bytes, now);
        prop_assert!(out.ends_with('\n'));
        prop_assert_eq!(out.matches('\n').count(), 2, "{:?}", out);
        let forbidden: Vec<char> = out.chars().filter(|&c| c != '\n' && is_forbidden(c)).collect();
        prop_assert!(forbidden.is_empty(), "raw {:?} in {:?}", forbidden, out);

        // The log (and the JSON format) carries the exact decoded text.
        prop_assert_eq!(log.matches('\n').count(), 1);
        let record: Record = serde_json::from_str(log.trim_end()).unwrap();
        let (decoded, malformed) = encoding.decode(&bytes);
        prop_assert_eq!(record.text.as_ref(), sanitize::strip_line_ending(&decoded));
        prop_assert_eq!(record.malformed, malformed);
        prop_assert_eq!(record.bytes, bytes.len());

        let json_mode = Renderer { encoding, format: Format::Json, timestamps };
        let mut json = String::new();
        json_mode.render(&mut json, None, &mut scratch, from, &bytes, now);
        prop_assert_eq!(&json, &log);
    }

    #[test]
    fn the_gbk_fast_path_decodes_exactly_as_encoding_rs(
        bytes in prop_oneof![
            // Any bytes at all.
            prop::collection::vec(any::<u8>(), 0..300),
            // Valid GBK text (Chinese, ASCII, symbols), sometimes with
            // bytes spliced in: lone lead bytes, 0x80, 0xFF, four-byte
            // GB18030 sequences.
            (
                "[a-z0-9 你好世界局域网聊天「」€…镕]{0,80}",
                prop::collection::vec((any::<prop::sample::Index>(), prop_oneof![
                    Just(vec![0x81u8]), Just(vec![0x80]), Just(vec![0xFF]),
                    Just(vec![0x81, 0x30, 0x81, 0x30]), Just(vec![0xE3, 0x32, 0x9A, 0x35]),
                    any::<u8>().prop_map(|b| vec![b]),
                ]), 0..4),
            )
                .prop_map(|(text, splices)| {
                    let mut b = encoding_rs::GBK.encode(&text).0.into_owned();
                    for (at, piece) in splices {
                        let i = at.index(b.len() + 1);
                        b.splice(i..i, piece);
                    }
                    b
                }),
        ],
        label in prop::sample::select(&["gb2312", "gbk", "gb18030", "auto"][..]),
    ) {
        let encoding = Encoding::for_decoding(label).unwrap();
        let mut fast = String::from("old contents");
        let malformed = encoding.decode_into(&bytes, &mut fast);
        let library = match label {
            "gb18030" | "auto" if std::str::from_utf8(&bytes).is_err() || label == "gb18030" => {
                encoding_rs::GB18030.decode_without_bom_handling(&bytes)
            }
            "auto" => (std::borrow::Cow::Borrowed(std::str::from_utf8(&bytes).unwrap()), false),
            _ => encoding_rs::GBK.decode_without_bom_handling(&bytes),
        };
        prop_assert_eq!(&fast, &library.0, "{:02X?}", bytes);
        prop_assert_eq!(malformed, library.1);
    }

    #[test]
    fn sanitized_text_has_no_raw_control_or_bidi(text in ".*") {
        let line = sanitize::one_line(&text);
        prop_assert!(!line.chars().any(sanitize::needs_escape), "{:?}", line);
        // Nothing is lost: text without escapable characters is unchanged.
        if !text.chars().any(sanitize::needs_escape) {
            prop_assert_eq!(line, text);
        }
    }

    #[test]
    fn framing_is_the_same_whatever_the_split(
        stream in prop::collection::vec(prop_oneof![
            3 => any::<u8>(),
            1 => Just(b'\n'),
            1 => Just(b'\r'),
        ], 0..600),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        max in 1usize..40,
    ) {
        let frames = |pieces: &[&[u8]]| {
            let mut fr = Framer::new(max);
            let mut got: Vec<Option<Vec<u8>>> = Vec::new();
            for p in pieces {
                fr.push(p, |f| got.push(match f {
                    Frame::Line(l) => Some(l.to_vec()),
                    Frame::TooLong => None,
                }));
            }
            (got, fr.finish())
        };
        let whole = frames(&[&stream]);
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        at.sort_unstable();
        let mut pieces = Vec::new();
        let mut prev = 0;
        for a in at {
            pieces.push(&stream[prev..a]);
            prev = a;
        }
        pieces.push(&stream[prev..]);
        let split = frames(&pieces);
        prop_assert_eq!(&split, &whole);
        for line in whole.0.iter().flatten() {
            prop_assert!(line.len() <= max);
            prop_assert!(!line.contains(&b'\n'));
        }
        // A reference model: every complete line, '\r' before '\n' dropped,
        // over-long ones reported as such; an unfinished tail is reported as
        // soon as it is longer than the cap plus a possible '\r'.
        let mut model = Vec::new();
        let mut parts: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
        let tail = parts.pop().unwrap_or_default();
        for part in parts {
            let line = part.strip_suffix(b"\r").unwrap_or(part);
            model.push((line.len() <= max).then(|| line.to_vec()));
        }
        if tail.len() > max + 1 {
            model.push(None);
        }
        prop_assert_eq!(whole.0, model);
    }
}
