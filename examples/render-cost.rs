//! Measures the in-process cost of decoding and rendering one datagram
//! (no sockets): ns per message for GB2312 payloads of several sizes, text
//! and JSON. Used to profile chat-window's hot path:
//! `cargo run --release --example render-cost`.

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use lanchat::encoding::Encoding;
use lanchat::message::{Format, Renderer, Scratch};

fn payload(size: usize) -> Vec<u8> {
    let (unit, _, _) = encoding_rs::GBK.encode("你好世界局域网聊天");
    unit.iter().copied().cycle().take(size & !1).collect()
}

/// ns per call of `f`, over `iterations` calls.
fn time(iterations: usize, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed().as_nanos() as f64 / iterations as f64
}

fn main() {
    // First, before anything has built it: the GBK table.
    let start = Instant::now();
    Encoding::gb2312().prepare();
    let table_ms = start.elapsed().as_secs_f64() * 1000.0;
    let from: SocketAddr = "172.16.43.31:50873".parse().unwrap();
    let iterations: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    for format in [Format::Text, Format::Json] {
        for size in [64, 1000] {
            let r = Renderer {
                encoding: Encoding::gb2312(),
                format,
                timestamps: false,
            };
            let data = payload(size);
            let mut out = String::with_capacity(1 << 20);
            let mut scratch = Scratch::default();
            let now = SystemTime::now();
            let start = Instant::now();
            for _ in 0..iterations {
                r.render(&mut out, None, &mut scratch, from, &data, now);
                if out.len() > 1 << 19 {
                    out.clear();
                }
            }
            let ns = start.elapsed().as_nanos() as f64 / iterations as f64;
            println!("{format:?} {size:>5} B: {ns:>8.0} ns/message");
        }
    }
    // The decode alone: the table-driven fast path against encoding_rs.
    let data = payload(1000);
    let mut text = String::new();
    let gbk = Encoding::gb2312();
    let fast = time(iterations, || {
        gbk.decode_into(std::hint::black_box(&data), &mut text);
    });
    let mut decoder_out = String::new();
    let library = time(iterations, || {
        decoder_out.clear();
        let mut d = encoding_rs::GBK.new_decoder_without_bom_handling();
        decoder_out.reserve(2000);
        let _ = d.decode_to_string(std::hint::black_box(&data), &mut decoder_out, true);
    });
    println!("decode 1000 B: {fast:>8.0} ns/message (encoding_rs alone: {library:.0} ns)");
    println!("building the GBK table: {table_ms:.2} ms");
}
