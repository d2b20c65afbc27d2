//! Benchmark null receiver: counts datagrams (recvmmsg batches) and nothing
//! else; the physical ceiling of this machine's loopback. Binds 127.0.0.1:0,
//! prints `listening on ADDR` on stderr, exits after --count datagrams or
//! after --idle of silence once traffic started; prints the count.

use std::time::{Duration, Instant};

use clap::Parser;
use lanchat::net::{self, BatchReceiver};

#[derive(Parser)]
struct Args {
    /// Stop after this many datagrams
    #[arg(long, default_value_t = u64::MAX)]
    count: u64,
    /// Stop after this long without traffic (once it started), in ms
    #[arg(long, default_value_t = 1000)]
    idle_ms: u64,
    /// Stop after this many seconds whatever happens
    #[arg(long, default_value_t = 60)]
    max_seconds: u64,
}

fn main() {
    let args = Args::parse();
    let bound = net::bind_udp(
        "127.0.0.1:0".parse().unwrap(),
        net::DEFAULT_RECV_BUFFER,
        false,
    )
    .unwrap();
    eprintln!("listening on {}", bound.socket.local_addr().unwrap());
    net::set_poll_timeout(&bound.socket, Duration::from_millis(50)).unwrap();
    let mut rx = BatchReceiver::new();
    let mut got = 0u64;
    let start = Instant::now();
    let mut last = None::<Instant>;
    while got < args.count && start.elapsed() < Duration::from_secs(args.max_seconds) {
        match rx.recv(&bound.socket, true) {
            Ok(n) => {
                got += n as u64;
                last = Some(Instant::now());
            }
            Err(e) if net::is_transient(&e) => {
                if last.is_some_and(|t| t.elapsed() > Duration::from_millis(args.idle_ms)) {
                    break;
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
    println!("received {got}");
}
