//! `chat-window`: shows every UDP datagram that reaches a port.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use lanchat::encoding::Encoding;
use lanchat::filter::AllowList;
use lanchat::message::{Format, Renderer};
use lanchat::stop::Stop;
use lanchat::window::{self, Config, Ended};
use lanchat::{cli, exit, net};

/// Show every message that reaches a UDP port: the sender's ip:port, then the
/// decoded text (GB2312 by default), one safe line each.
///
/// Example: `chat-window` on one machine, `input-box 192.168.1.10` on others.
/// Scripts: `chat-window -p 0 --count 3 --timeout 5s` (reads the real port
/// from the `listening on` line on stderr).
#[derive(Parser, Debug)]
#[command(
    name = "chat-window",
    version,
    after_help = "Exit status: 0 done, 1 failure (or --count not reached in --timeout), 2 usage, 130 Ctrl-C/SIGTERM."
)]
struct Args {
    /// Address to listen on (`::` listens on IPv6 and IPv4) [default: 0.0.0.0]
    #[arg(short, long, value_name = "ADDR", value_parser = cli::bind_addr)]
    bind: Option<IpAddr>,
    /// UDP port to listen on (0 picks a free one)
    #[arg(short, long, default_value_t = 3456)]
    port: u16,
    /// Encoding of incoming text: a WHATWG label (gb2312, gbk, gb18030, utf-8, big5, …) or auto (UTF-8 if valid, else GB18030)
    #[arg(short, long, value_name = "LABEL", default_value = "gb2312", value_parser = cli::decoding)]
    encoding: Encoding,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Put the arrival time (UTC, RFC 3339) before each sender
    #[arg(long)]
    timestamps: bool,
    #[command(flatten)]
    listen: cli::Listen,
    /// Exit 0 after N shown messages
    #[arg(long, value_name = "N", value_parser = cli::positive)]
    count: Option<u64>,
    /// Stop after this long (5s, 500ms); with --count, exit 1 if not all arrived
    #[arg(long, value_name = "DURATION", value_parser = cli::duration)]
    timeout: Option<Duration>,
    /// Also append every shown message as a JSON line to FILE
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Socket receive buffer to ask for, in bytes (the kernel may cap it)
    #[arg(long, value_name = "BYTES", default_value_t = net::DEFAULT_RECV_BUFFER)]
    recv_buffer: usize,
    /// Write the man page or a shell completion to stdout (for packagers)
    #[arg(long, value_enum, value_name = "WHAT", hide = true, exclusive = true)]
    generate: Option<cli::Generate>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(what) = args.generate {
        return exit::generated("chat-window", what, Args::command());
    }
    exit::report("chat-window", run(args))
}

fn run(args: Args) -> anyhow::Result<u8> {
    let ip = args.bind.unwrap_or(match args.listen.multicast {
        Some(IpAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    });
    let shared = args.listen.multicast.is_some();
    let bound = net::bind_udp(SocketAddr::new(ip, args.port), args.recv_buffer, shared)?;
    if let Some(group) = args.listen.multicast {
        net::join_multicast(&bound.socket, group, args.listen.interface.as_deref())?;
    }
    let log = match &args.log {
        Some(path) => Some(
            lanchat::journal::open_log(path)
                .with_context(|| format!("cannot open log {}", path.display()))?,
        ),
        None => None,
    };
    let stop = Stop::install(|| {}).context("cannot install the Ctrl-C handler")?;
    args.encoding.prepare();
    window::announce(bound.socket.local_addr()?, bound.recv_buffer);
    let config = Config {
        renderer: Renderer {
            encoding: args.encoding,
            format: args.format,
            timestamps: args.timestamps,
        },
        max_rate: args.listen.max_rate(),
        allow: AllowList::new(args.listen.allow),
        count: args.count,
        timeout: args.timeout,
        log,
    };
    let mut stdout = std::io::stdout().lock();
    let report = window::run(&bound.socket, config, &mut stdout, &stop)?;
    eprintln!("chat-window: {}", report.summary);
    Ok(match report.ended {
        Ended::Count | Ended::Timeout | Ended::OutputClosed => exit::SUCCESS,
        Ended::Stopped => exit::INTERRUPTED,
        Ended::CountNotReached { after } => {
            eprintln!(
                "chat-window: timed out after {}: {} of {} messages arrived",
                humantime::format_duration(after),
                report.summary.shown,
                args.count.unwrap_or_default()
            );
            exit::FAILURE
        }
    })
}
