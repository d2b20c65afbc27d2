//! Any datagram, in any supported encoding: the text record is exactly two
//! lines with no raw control or bidi character, and the JSON record parses
//! back to the decoded text.
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
    let (decoded, _) = encoding.decode(payload);
    assert_eq!(record.text.as_ref(), sanitize::strip_line_ending(&decoded));
});
