//! `input-box`: sends each line you type as one UDP datagram.

use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use lanchat::encoding::Encoding;
use lanchat::input::{self, Config, Ended, Target};
use lanchat::stdin::{Source, StdinText};
use lanchat::stop::Stop;
use lanchat::tty::{self, TermGuard};
use lanchat::{cli, exit};
use rust_i18n::t;

rust_i18n::i18n!("locales", fallback = "en");

#[derive(Parser, Debug)]
#[command(
    name = "input-box",
    version,
    about = t!("help.input_box.about").to_string(),
    long_about = t!("help.input_box.long_about").to_string(),
    after_help = t!("help.input_box.after").to_string()
)]
struct Args {
    #[arg(help = t!("help.input_box.host").to_string(), default_value = "127.0.0.1")]
    host: String,
    #[arg(help = t!("help.input_box.port").to_string(), short, long, default_value_t = 3456)]
    port: u16,
    #[arg(help = t!("help.input_box.encoding").to_string(), short, long, value_name = "LABEL", default_value = "gb2312", value_parser = cli::encoding)]
    encoding: Encoding,
    #[arg(help = t!("help.input_box.source").to_string(), short, long, value_name = "ADDR[:PORT]")]
    source: Option<String>,
    #[arg(help = t!("help.input_box.broadcast").to_string(), long)]
    broadcast: bool,
    #[arg(help = t!("help.input_box.ttl").to_string(), long, value_name = "N")]
    ttl: Option<u32>,
    #[arg(help = t!("help.input_box.message").to_string(), short, long = "message", value_name = "TEXT")]
    message: Vec<String>,
    #[arg(help = t!("help.input_box.quit_word").to_string(), long, value_name = "WORD", default_value = "88")]
    quit_word: String,
    #[arg(long, value_name = "LABEL", value_parser = cli::stdin_encoding, help = t!("help.stdin_encoding").to_string())]
    stdin_encoding: Option<StdinText>,
    #[arg(long, value_enum, value_name = "WHAT", hide = true, exclusive = true)]
    generate: Option<cli::Generate>,
}

fn main() -> ExitCode {
    let args = lanchat::i18n::parse::<Args>();
    if let Some(what) = args.generate {
        return exit::generated("input-box", what, Args::command);
    }
    exit::report("input-box", TermGuard::around(|| run(args)))
}

fn run(args: Args) -> anyhow::Result<u8> {
    let target = Target {
        host: args.host,
        port: args.port,
        source: args.source,
        broadcast: args.broadcast,
        ttl: args.ttl,
    };
    let socket = input::open(&target)?;
    let stop = Stop::install(|| {}).context(t!("stop.install"))?;
    let lines = if !args.message.is_empty() {
        Source::Messages(args.message)
    } else if tty::stdin_is_terminal() {
        lanchat::status::say(input::BANNER);
        Source::Terminal {
            prompt: String::new(),
            printer: None,
        }
    } else {
        Source::Stream(Box::new(std::io::stdin()))
    };
    let config = Config {
        encoding: args.encoding,
        quit_word: (!args.quit_word.is_empty()).then_some(args.quit_word),
        dest_label: target.label(),
        stdin: args
            .stdin_encoding
            .unwrap_or_else(StdinText::platform_default),
    };
    let report = input::run(&socket, &config, lines, &stop, &mut std::io::stderr())?;
    let from = socket
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    lanchat::status::say(&format!(
        "input-box: {}",
        t!(
            "input.summary",
            sent = report.sent,
            bytes = report.bytes,
            from = from,
            to = target.label(),
            refused = report.refused
        )
    ));
    Ok(match report.ended {
        Ended::Stopped => exit::INTERRUPTED,
        _ if report.refused > 0 => exit::FAILURE,
        _ => exit::SUCCESS,
    })
}
