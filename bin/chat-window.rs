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
use rust_i18n::t;

rust_i18n::i18n!("locales", fallback = "en");

#[derive(Parser, Debug)]
#[command(
    name = "chat-window",
    version,
    about = t!("help.chat_window.about").to_string(),
    long_about = t!("help.chat_window.long_about").to_string(),
    after_help = t!("help.chat_window.after").to_string()
)]
struct Args {
    #[arg(help = t!("help.chat_window.bind").to_string(), short, long, value_name = "ADDR", value_parser = cli::bind_addr)]
    bind: Option<IpAddr>,
    #[arg(help = t!("help.chat_window.port").to_string(), short, long, default_value_t = 3456)]
    port: u16,
    #[arg(help = t!("help.chat_window.encoding").to_string(), short, long, value_name = "LABEL", default_value = "gb2312", value_parser = cli::decoding)]
    encoding: Encoding,
    #[arg(help = t!("help.chat_window.format").to_string(), long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[arg(help = t!("help.chat_window.timestamps").to_string(), long)]
    timestamps: bool,
    #[command(flatten)]
    listen: cli::Listen,
    #[arg(help = t!("help.chat_window.count").to_string(), long, value_name = "N", value_parser = cli::positive)]
    count: Option<u64>,
    #[arg(help = t!("help.chat_window.timeout").to_string(), long, value_name = "DURATION", value_parser = cli::duration)]
    timeout: Option<Duration>,
    #[arg(help = t!("help.chat_window.log").to_string(), long, value_name = "FILE")]
    log: Option<PathBuf>,
    #[arg(help = t!("help.chat_window.recv_buffer").to_string(), long, value_name = "BYTES", default_value_t = net::DEFAULT_RECV_BUFFER)]
    recv_buffer: usize,
    #[arg(long, value_enum, value_name = "WHAT", hide = true, exclusive = true)]
    generate: Option<cli::Generate>,
}

fn main() -> ExitCode {
    let args = lanchat::i18n::parse::<Args>();
    if let Some(what) = args.generate {
        return exit::generated("chat-window", what, Args::command);
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
                .with_context(|| t!("log.open", path = path.display()))?,
        ),
        None => None,
    };
    let stop = Stop::install(|| {}).context(t!("stop.install"))?;
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
            lanchat::status::say(&format!(
                "chat-window: {}",
                t!(
                    "chat_window.count_not_reached",
                    after = humantime::format_duration(after),
                    shown = report.summary.shown,
                    count = args.count.unwrap_or_default()
                )
            ));
            exit::FAILURE
        }
    })
}
