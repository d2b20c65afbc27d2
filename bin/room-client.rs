//! `room-client`: joins a room-server; reads the keyboard and the room at once.

use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use lanchat::encoding::Encoding;
use lanchat::room::client::{self, Config, Ended};
use lanchat::stdin::{Source, StdinText};
use lanchat::stop::Stop;
use lanchat::tty::{self, TermGuard};
use lanchat::{cli, exit};
use rust_i18n::t;

rust_i18n::i18n!("locales", fallback = "en");

#[derive(Parser, Debug)]
#[command(
    name = "room-client",
    version,
    about = t!("help.room_client.about").to_string(),
    long_about = t!("help.room_client.long_about").to_string(),
    after_help = t!("help.room_client.after").to_string()
)]
struct Args {
    #[arg(help = t!("help.room_client.host").to_string(), default_value = "127.0.0.1")]
    host: String,
    #[arg(help = t!("help.room_client.port").to_string(), short, long)]
    port: Option<u16>,
    #[arg(help = t!("help.room_client.encoding").to_string(), short, long, value_name = "LABEL", default_value = "gb2312", value_parser = cli::decoding)]
    encoding: Encoding,
    #[arg(long, value_name = "LABEL", value_parser = cli::stdin_encoding, help = t!("help.stdin_encoding").to_string())]
    stdin_encoding: Option<StdinText>,
    #[arg(help = t!("help.room_client.name").to_string(), long, value_name = "NAME")]
    name: Option<String>,
    #[arg(long, value_enum, value_name = "WHAT", hide = true, exclusive = true)]
    generate: Option<cli::Generate>,
}

fn main() -> ExitCode {
    let args = lanchat::i18n::parse::<Args>();
    if let Some(what) = args.generate {
        return exit::generated("room-client", what, Args::command);
    }
    exit::report("room-client", TermGuard::around(|| run(args)))
}

fn run(args: Args) -> anyhow::Result<u8> {
    let send = match args.encoding {
        Encoding::Auto => Encoding::gb2312(),
        other => Encoding::for_encoding(other.label()).map_err(|e| anyhow::anyhow!(e))?,
    };
    let (host, port) = client::target(&args.host, args.port)
        .unwrap_or_else(|why| lanchat::i18n::refuse(Args::command(), &why));
    let stream = client::connect(host, port, client::CONNECT_TIMEOUT)?;
    let rejoin = match &args.name {
        Some(name) => Some(client::take_name(&stream, name, send)?),
        None => None,
    };
    let stop = Stop::install(|| {}).context(t!("stop.install"))?;
    lanchat::status::say(&client::connected());
    let source = if tty::stdin_is_terminal() {
        Source::Terminal {
            prompt: client::prompt(),
            printer: None,
        }
    } else {
        Source::Stream(Box::new(std::io::stdin()))
    };
    let config = Config {
        send,
        receive: args.encoding,
        stdin: args
            .stdin_encoding
            .unwrap_or_else(StdinText::platform_default),
        rejoin,
    };
    let report = client::run(stream, config, source, &stop, &mut std::io::stderr())?;
    Ok(match report.ended {
        Ended::Disconnected => {
            lanchat::status::say(&t!("room.disconnected"));
            exit::FAILURE
        }
        Ended::Stopped => exit::INTERRUPTED,
        Ended::Eof if report.refused > 0 => exit::FAILURE,
        Ended::Eof => exit::SUCCESS,
    })
}
