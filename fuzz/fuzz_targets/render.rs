//! Any datagram, in any supported encoding: the text record is exactly two
//! lines with no raw control or bidi character, the JSON record parses
//! back to the decoded text, and the table-driven GBK / GB18030 decoder
//! gives exactly encoding_rs's text and malformed flag.
#![no_main]

use std::net::SocketAddr;
use std::time::SystemTime;

use lanchat::encoding::Encoding;
use lanchat::message::{Format, Record, Renderer, Scratch};
use lanchat::sanitize;
use libfuzzer_sys::fuzz_target;

const LABELS: &[&str] = &[
    "gb2312", "gb18030", "utf-8", "big5", "shift_jis", "euc-kr", "utf-16le", "windows-1252", "auto",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, payload)) = data.split_first() else {
        return;
    };
    let encoding = Encoding::for_decoding(LABELS[usize::from(pick) % LABELS.len()]).unwrap();
    let from: SocketAddr = "192.0.2.1:3456".parse().unwrap();
    let renderer = Renderer {
        encoding,
        format: Format::Text,
        timestamps: pick & 0x80 != 0,
    };
    let mut out = String::new();
    let mut log = String::new();
    let mut scratch = Scratch::default();
    renderer.render(&mut out, Some(&mut log), &mut scratch, from, payload, SystemTime::now());
    assert_eq!(out.matches('\n').count(), 2, "{out:?}");
    assert!(out.ends_with('\n'));
    assert!(
        !out.trim_end_matches('\n').replacen('\n', "", 1).chars().any(sanitize::needs_escape),
        "{out:?}"
    );
    let record: Record = serde_json::from_str(log.trim_end()).unwrap();
    let (decoded, malformed) = encoding.decode(payload);
    assert_eq!(record.text.as_ref(), sanitize::strip_line_ending(&decoded));
    assert_eq!(record.malformed, malformed);
    // The table-driven GBK / GB18030 decoder against encoding_rs itself.
    for (label, library) in [("gbk", encoding_rs::GBK), ("gb18030", encoding_rs::GB18030)] {
        let mut fast = String::new();
        let fast_malformed = Encoding::for_decoding(label).unwrap().decode_into(payload, &mut fast);
        let (want, want_malformed) = library.decode_without_bom_handling(payload);
        assert_eq!(fast, want, "{label} {payload:02X?}");
        assert_eq!(fast_malformed, want_malformed, "{label} {payload:02X?}");
    }
});
