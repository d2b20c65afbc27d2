//! Benchmark load generator: sends COUNT GB2312 datagrams of SIZE bytes to
//! DEST as fast as it can (sendmmsg batches on Linux), or at --rate per
//! second. Bounded in count and in time (--max-seconds). Prints what it sent.
//!
//! `cargo run --release --example udp-flood -- 127.0.0.1:3456 --count 100000 --size 64`

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use clap::Parser;
use lanchat::net;

#[derive(Parser)]
struct Args {
    /// Destination ip:port (loopback only in this project's benchmarks)
    dest: SocketAddr,
    /// Datagrams to send
    #[arg(long, default_value_t = 100_000)]
    count: u64,
    /// Payload bytes (GB2312 Chinese text, padded)
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Datagrams per second (0: full blast)
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Stop after this many seconds whatever the count
    #[arg(long, default_value_t = 30)]
    max_seconds: u64,
}

fn payload(size: usize) -> Vec<u8> {
    let (unit, _, _) = encoding_rs::GBK.encode("你好世界");
    let mut p: Vec<u8> = unit.iter().copied().cycle().take(size & !1).collect();
    while p.len() < size {
        p.push(b'.');
    }
    p
}

fn main() {
    let args = Args::parse();
    assert!(
        args.dest.ip().is_loopback(),
        "benchmarks send only to loopback"
    );
    let socket = UdpSocket::bind(if args.dest.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    })
    .unwrap();
    socket.connect(args.dest).unwrap();
    let data = payload(args.size);
    let refs = vec![data.as_slice(); net::SEND_BATCH];
    let start = Instant::now();
    let limit = Duration::from_secs(args.max_seconds);
    let mut sent = 0u64;
    while sent < args.count && start.elapsed() < limit {
        let mut batch = (args.count - sent).min(net::SEND_BATCH as u64) as usize;
        if args.rate > 0 {
            let due = (start.elapsed().as_secs_f64() * args.rate as f64) as u64;
            if due <= sent {
                std::thread::sleep(Duration::from_micros(200));
                continue;
            }
            batch = batch.min((due - sent) as usize);
        }
        sent += net::send_batch(&socket, &refs[..batch]).unwrap_or(0) as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("sent {sent} in {secs:.3} s: {:.0}/s", sent as f64 / secs);
}
