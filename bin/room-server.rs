//! `room-server`: a TCP chat room relaying each client's lines to all others.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use anyhow::Context;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use lanchat::encoding::Encoding;
use lanchat::room::server::{Config, Server};
use lanchat::room::web::WebConfig;
use lanchat::stop::Stop;
use lanchat::{cli, exit, status};

/// A TCP chat room: every line a client sends reaches every other client as
/// `<ip:port> line`, with `[ip:port] entered room` / `left room` notices.
/// Plain nc, ncat and telnet work as clients; bytes pass through undecoded.
/// Members may take a name (`/nick 小明`), list who is there (`/who`) and
/// say something to one member (`/msg 小明 text`).
///
/// Example: `room-server -p 5000`, then `room-client 192.168.1.10` (or
/// `nc 192.168.1.10 5000`) on each machine; `room-server --web 0.0.0.0:8080`
/// also lets anyone open http://192.168.1.10:8080/ in a browser to join.
#[derive(Parser, Debug)]
#[command(
    name = "room-server",
    version,
    after_help = "Exit status: 0 done, 1 failure, 2 usage, 130 Ctrl-C/SIGTERM."
)]
struct Args {
    /// Address to listen on (`::` listens on IPv6 and IPv4)
    #[arg(short, long, value_name = "ADDR", default_value = "0.0.0.0", value_parser = cli::bind_addr)]
    bind: IpAddr,
    /// TCP port (0 picks a free one)
    #[arg(short, long, default_value_t = 5000)]
    port: u16,
    /// Clients at most; the next is told `! room full` and closed
    #[arg(long, value_name = "N", default_value_t = 10_000, value_parser = cli::positive)]
    max_clients: u64,
    /// Longest line relayed, in bytes; a longer one is dropped and its sender told
    #[arg(long, value_name = "BYTES", default_value_t = 65_536, value_parser = cli::positive)]
    max_line: u64,
    /// Lines per second per client; past it the client is read more slowly (nothing is lost) and told `! slow down` once
    #[arg(long, value_name = "N", default_value_t = 1_000, value_parser = cli::positive)]
    max_rate: u64,
    /// Bytes held for one client that does not read before it is dropped as too slow (e.g. 4MiB)
    #[arg(long, value_name = "BYTES", default_value = "4MiB", value_parser = cli::bytes)]
    max_queue: u64,
    /// Bytes all clients' queues may hold together; past it the clients furthest behind are dropped (e.g. 256MiB)
    #[arg(long, value_name = "BYTES", default_value = "256MiB", value_parser = cli::bytes)]
    max_memory: u64,
    /// Clients from one IP address at most, TCP and web page together (0: no limit; load tests that open thousands from one address need it); the next is told `! too many connections` and closed
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_per_host: u64,
    /// Tell a member who joins the last N lines relayed, between `! last K lines:` and `! end of history` (private lines never) [default: off]
    #[arg(long, value_name = "N")]
    history: Option<usize>,
    /// Also append every relayed line to FILE (`2026-12-02T01:02:03Z <NAME@ip:port> line`), and read the last N back at start
    #[arg(long, value_name = "FILE", requires = "history")]
    history_file: Option<std::path::PathBuf>,
    /// Also serve the room as a web page on ADDR:PORT (e.g. 0.0.0.0:8080): browsers join the same room
    #[arg(long, value_name = "ADDR:PORT")]
    web: Option<SocketAddr>,
    /// Encoding between the room's bytes and the page's text: a WHATWG label, or auto (reads UTF-8 or GB18030, writes GB2312)
    #[arg(long, value_name = "LABEL", default_value = "gb2312", value_parser = cli::decoding, requires = "web")]
    web_encoding: Encoding,
    /// Another origin whose pages may join, besides the server's own address (repeatable; e.g. `http://chat.lan:8080`)
    #[arg(long, value_name = "ORIGIN", requires = "web")]
    web_origin: Vec<String>,
    /// Write the man page or a shell completion to stdout (for packagers)
    #[arg(long, value_enum, value_name = "WHAT", hide = true, exclusive = true)]
    generate: Option<cli::Generate>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(what) = args.generate {
        return exit::generated("room-server", what, Args::command());
    }
    exit::report("room-server", run(args))
}

fn run(args: Args) -> anyhow::Result<u8> {
    let config = Config {
        max_clients: usize::try_from(args.max_clients).unwrap_or(usize::MAX),
        max_line: usize::try_from(args.max_line).unwrap_or(usize::MAX),
        max_rate: Some(u32::try_from(args.max_rate).unwrap_or(u32::MAX)),
        max_queue: usize::try_from(args.max_queue).unwrap_or(usize::MAX),
        max_memory: usize::try_from(args.max_memory).unwrap_or(usize::MAX),
        max_per_host: usize::try_from(args.max_per_host).unwrap_or(usize::MAX),
        max_requests: 0,
        history: args.history.unwrap_or(0),
        history_file: args.history_file.clone(),
        verbose: true,
    };
    if let Err(why) = config.check() {
        Args::command()
            .error(ErrorKind::ValueValidation, why)
            .exit();
    }
    let listener = lanchat::net::bind_tcp(SocketAddr::new(args.bind, args.port))?;
    let files = lanchat::sys::raise_open_file_limit();
    // The page's requests under way, in all: an eighth of the descriptors.
    let config = Config {
        max_requests: files.map_or(4096, |f| {
            usize::try_from(f / 8).unwrap_or(65_536).clamp(64, 65_536)
        }),
        ..config
    };
    let max_clients = config.max_clients;
    let mut server = Server::new(listener, config)?;
    if let Some(addr) = args.web {
        let web = lanchat::net::bind_tcp(addr)?;
        let encode = match args.web_encoding {
            Encoding::Auto => Encoding::gb2312(),
            other => Encoding::for_encoding(other.label()).map_err(|e| anyhow::anyhow!(e))?,
        };
        server = server.with_web(
            web,
            WebConfig {
                decode: args.web_encoding,
                encode,
                origins: args.web_origin.clone(),
            },
        )?;
    }
    let waker = server.waker();
    let stop = Stop::install(move || {
        let _ = waker.wake();
    })
    .context("cannot install the Ctrl-C handler")?;
    status::say(&format!("Chat server started on {}", server.local_addr()?));
    if let Some(addr) = server.web_addr() {
        status::say(&format!("Web page on http://{addr}/"));
    }
    if let Some(files) = files {
        let room = files.saturating_sub(16).min(max_clients as u64);
        status::say(&format!("open-file limit {files}: room for {room} clients"));
    }
    server.run(&stop)?;
    Ok(exit::INTERRUPTED)
}
