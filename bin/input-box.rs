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

/// Send each line of input as one UDP datagram (GB2312 by default) to a chat
/// window. The line `88` is sent and then ends the program.
///
/// Example: `input-box 192.168.1.10`, or from a script:
/// `input-box 127.0.0.1 -p 3456 -m 你好 -m 88`.
#[derive(Parser, Debug)]
#[command(
    name = "input-box",
    version,
    after_help = "Exit status: 0 all sent, 1 a line was refused or a failure, 2 usage, 130 Ctrl-C/SIGTERM."
)]
struct Args {
    /// Where the chat window is: a name, an IPv4 or IPv6 address, a broadcast or multicast address
    #[arg(default_value = "127.0.0.1")]
    host: String,
    /// UDP port of the chat window
    #[arg(short, long, default_value_t = 3456)]
    port: u16,
    /// Encoding to send in: a WHATWG label (gb2312, gbk, gb18030, utf-8, big5, …)
    #[arg(short, long, value_name = "LABEL", default_value = "gb2312", value_parser = cli::encoding)]
    encoding: Encoding,
    /// Local address (and port) to send from, e.g. 127.0.0.2 or 192.168.1.5:4000
    #[arg(short, long, value_name = "ADDR[:PORT]")]
    source: Option<String>,
    /// Allow sending to a broadcast address (SO_BROADCAST)
    #[arg(long)]
    broadcast: bool,
    /// Multicast TTL, or unicast hop limit
    #[arg(long, value_name = "N")]
    ttl: Option<u32>,
    /// Send these messages in order instead of reading input (repeatable)
    #[arg(short, long = "message", value_name = "TEXT")]
    message: Vec<String>,
    /// The line that is sent and then ends the program ('' disables it)
    #[arg(long, value_name = "WORD", default_value = "88")]
    quit_word: String,
    #[arg(long, value_name = "LABEL", value_parser = cli::stdin_encoding, help = cli::STDIN_ENCODING_HELP)]
    stdin_encoding: Option<StdinText>,
    /// Write the man page or a shell completion to stdout (for packagers)
    #[arg(long, value_enum, value_name = "WHAT", hide = true, exclusive = true)]
    generate: Option<cli::Generate>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(what) = args.generate {
        return exit::generated("input-box", what, Args::command());
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
    let stop = Stop::install(|| {}).context("cannot install the Ctrl-C handler")?;
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
    eprintln!(
        "input-box: sent {} datagrams ({} bytes) from {from} to {}; {} lines not sent",
        report.sent,
        report.bytes,
        target.label(),
        report.refused
    );
    Ok(match report.ended {
        Ended::Stopped => exit::INTERRUPTED,
        _ if report.refused > 0 => exit::FAILURE,
        _ => exit::SUCCESS,
    })
}
