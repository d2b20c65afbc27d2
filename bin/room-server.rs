//! `room-server`: a TCP chat room relaying each client's lines to all others.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use lanchat::encoding::Encoding;
use lanchat::room::server::{Config, Server};
use lanchat::room::web::WebConfig;
use lanchat::stop::Stop;
use lanchat::{cli, exit, status};
use rust_i18n::t;

rust_i18n::i18n!("locales", fallback = "en");

#[derive(Parser, Debug)]
#[command(
    name = "room-server",
    version,
    about = t!("help.room_server.about").to_string(),
    long_about = t!("help.room_server.long_about").to_string(),
    after_help = t!("help.room_server.after").to_string()
)]
struct Args {
    #[arg(help = t!("help.room_server.bind").to_string(), short, long, value_name = "ADDR", default_value = "0.0.0.0", value_parser = cli::bind_addr)]
    bind: IpAddr,
    #[arg(help = t!("help.room_server.port").to_string(), short, long, default_value_t = 5000)]
    port: u16,
    #[arg(help = t!("help.room_server.max_clients").to_string(), long, value_name = "N", default_value_t = 10_000, value_parser = cli::positive)]
    max_clients: u64,
    #[arg(help = t!("help.room_server.max_line").to_string(), long, value_name = "BYTES", default_value_t = 65_536, value_parser = cli::positive)]
    max_line: u64,
    #[arg(help = t!("help.room_server.max_rate").to_string(), long, value_name = "N", default_value_t = 1_000, value_parser = cli::positive)]
    max_rate: u64,
    #[arg(help = t!("help.room_server.max_queue").to_string(), long, value_name = "BYTES", default_value = "4MiB", value_parser = cli::bytes)]
    max_queue: u64,
    #[arg(help = t!("help.room_server.max_memory").to_string(), long, value_name = "BYTES", default_value = "256MiB", value_parser = cli::bytes)]
    max_memory: u64,
    #[arg(help = t!("help.room_server.max_per_host").to_string(), long, value_name = "N", default_value_t = 64)]
    max_per_host: u64,
    #[arg(help = t!("help.room_server.history").to_string(), long, value_name = "N")]
    history: Option<usize>,
    #[arg(help = t!("help.room_server.history_file").to_string(), long, value_name = "FILE", requires = "history")]
    history_file: Option<std::path::PathBuf>,
    #[arg(help = t!("help.room_server.web").to_string(), long, value_name = "ADDR:PORT")]
    web: Option<SocketAddr>,
    #[arg(help = t!("help.room_server.web_encoding").to_string(), long, value_name = "LABEL", default_value = "gb2312", value_parser = cli::decoding, requires = "web")]
    web_encoding: Encoding,
    #[arg(help = t!("help.room_server.web_origin").to_string(), long, value_name = "ORIGIN", requires = "web")]
    web_origin: Vec<String>,
    #[arg(help = t!("help.room_server.password").to_string(), long, value_name = "TEXT", conflicts_with = "password_file")]
    password: Option<String>,
    #[arg(help = t!("help.room_server.password_file").to_string(), long, value_name = "FILE")]
    password_file: Option<std::path::PathBuf>,
    #[arg(help = t!("help.room_server.op_password").to_string(), long, value_name = "TEXT", conflicts_with = "op_password_file")]
    op_password: Option<String>,
    #[arg(help = t!("help.room_server.op_password_file").to_string(), long, value_name = "FILE")]
    op_password_file: Option<std::path::PathBuf>,
    #[arg(help = t!("help.room_server.bans").to_string(), long, value_name = "FILE")]
    bans: Option<std::path::PathBuf>,
    #[arg(help = t!("help.room_server.relay_bytes").to_string(), long)]
    relay_bytes: bool,
    #[arg(long, value_enum, value_name = "WHAT", hide = true, exclusive = true)]
    generate: Option<cli::Generate>,
}

fn main() -> ExitCode {
    let args = lanchat::i18n::parse::<Args>();
    if let Some(what) = args.generate {
        return exit::generated("room-server", what, Args::command);
    }
    exit::report("room-server", run(args))
}

/// A password from the command line or the first line of a file (so it
/// stays out of `ps`); an empty one is refused as a usage error.
fn secret(
    text: Option<&str>,
    file: Option<&std::path::Path>,
    option: &str,
) -> anyhow::Result<Option<Box<[u8]>>> {
    let value = match (text, file) {
        (Some(t), _) => t.to_string(),
        (None, Some(path)) => {
            let all = std::fs::read_to_string(path)
                .with_context(|| t!("room.password_file", path = path.display()).into_owned())?;
            all.lines().next().unwrap_or("").to_string()
        }
        (None, None) => return Ok(None),
    };
    let value = value.trim();
    if value.is_empty() {
        lanchat::i18n::refuse(Args::command(), &t!("room.password_empty", option = option));
    }
    Ok(Some(value.as_bytes().into()))
}

fn run(args: Args) -> anyhow::Result<u8> {
    let password = secret(
        args.password.as_deref(),
        args.password_file.as_deref(),
        "--password",
    )?;
    let op_password = secret(
        args.op_password.as_deref(),
        args.op_password_file.as_deref(),
        "--op-password",
    )?;
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
        password,
        op_password,
        bans_file: args.bans.clone(),
        relay_bytes: args.relay_bytes,
        verbose: true,
    };
    if let Err(why) = config.check() {
        lanchat::i18n::refuse(Args::command(), &why);
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
    .context(t!("stop.install"))?;
    status::say(&format!("Chat server started on {}", server.local_addr()?));
    if let Some(addr) = server.web_addr() {
        status::say(&format!("Web page on http://{addr}/"));
    }
    if let Some(files) = files {
        let room = files.saturating_sub(16).min(max_clients as u64);
        status::say(&t!("room.file_limit", files = files, room = room));
    }
    server.run(&stop)?;
    Ok(exit::INTERRUPTED)
}
