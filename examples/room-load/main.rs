//! Benchmark load for a TCP chat room (room-server, the classic Python
//! select() room, `ncat --chat`). Loopback only; every phase is bounded in
//! time. Prints one `key=value` line for scripts.
//!
//! * `hold`: connect N clients (from 127.0.1.x, .2.x, … as many hosts), then
//!   one line from client 0 must reach all N-1 others: `held=N` or the
//!   number that got it.
//! * `fanout`: C clients, S of them sending lines (at --rate lines/s in all,
//!   or as fast as they can), every client reading; optionally one more
//!   client that never reads. Reports lines delivered per second, the share
//!   of delivered lines that carried a sender prefix, and p50/p99 latency.
//!
//! * `storm`: N clients join while none of them reads, stay silent, then
//!   read: client i must get the join notices of every later client
//!   (N(N-1)/2 in all). Reports how many got them all.
//! * `hold-web` (with `--web`): N WebSocket members (as browsers), then one
//!   line from a TCP client must reach them all;
//! * `fanout --ws N` (with `--web`): N of the clients are WebSocket members;
//!   `fanout --named`: every client takes a name first (`/nick cN`);
//! * `history` (against `room-server --history L`): L lines of S bytes,
//!   then members join one after another; the time from connecting to the
//!   end of their history;
//! * `bulk`: one client pipes L lines of S bytes as fast as TCP takes them
//!   (a file into `nc`); R readers must get every line whole and in
//!   order. Reports lines/s and how many were lost.
//!
//! `cargo run --release --example room-load -- 127.0.0.1:5000 fanout --clients 100 --senders 10`

#[cfg(unix)]
mod load;

fn main() {
    #[cfg(unix)]
    load::main();
    #[cfg(not(unix))]
    {
        eprintln!("room-load: runs on Unix only (it drives raw sockets through epoll)");
        std::process::exit(2);
    }
}
