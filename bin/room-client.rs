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

/// Join a TCP chat room: each line you type goes to everyone else; their
/// lines appear above your prompt without disturbing what you are typing.
///
/// Example: `room-client 192.168.1.10` (a room-server on port 5000),
/// `room-client 192.168.1.10:6000`, or from a script:
/// `printf '你好\n' | room-client 127.0.0.1 -p 5000`.
#[derive(Parser, Debug)]
#[command(
    name = "room-client",
    version,
    after_help = "Exit status: 0 end of input, 1 failure or server gone, 2 usage, 130 Ctrl-C/SIGTERM."
)]
struct Args {
    /// The room server: a name, an IPv4 or IPv6 address, or HOST:PORT ([ADDR]:PORT for IPv6)
    #[arg(default_value = "127.0.0.1")]
    host: String,
    /// TCP port of the room server [default: 5000]
    #[arg(short, long)]
    port: Option<u16>,
    /// Encoding: a WHATWG label (gb2312, gbk, gb18030, utf-8, …); `auto` reads UTF-8 or GB18030 and sends GB2312
    #[arg(short, long, value_name = "LABEL", default_value = "gb2312", value_parser = cli::decoding)]
    encoding: Encoding,
    #[arg(long, value_name = "LABEL", value_parser = cli::stdin_encoding, help = cli::STDIN_ENCODING_HELP)]
    stdin_encoding: Option<StdinText>,
    /// Take this name on joining (as typing /nick NAME first): your lines reach the others as <NAME@ip:port>
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Write the man page or a shell completion to stdout (for packagers)
    #[arg(long, value_enum, value_name = "WHAT", hide = true, exclusive = true)]
    generate: Option<cli::Generate>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(what) = args.generate {
        return exit::generated("room-client", what, Args::command());
    }
    exit::report("room-client", TermGuard::around(|| run(args)))
}

fn run(args: Args) -> anyhow::Result<u8> {
    let send = match args.encoding {
        Encoding::Auto => Encoding::gb2312(),
        other => Encoding::for_encoding(other.label()).map_err(|e| anyhow::anyhow!(e))?,
    };
    let (host, port) = client::target(&args.host, args.port).unwrap_or_else(|why| {
        Args::command()
            .error(clap::error::ErrorKind::ArgumentConflict, why)
            .exit()
    });
    let stream = client::connect(host, port, client::CONNECT_TIMEOUT)?;
    if let Some(name) = &args.name {
        client::take_name(&stream, name, send)?;
    }
    let stop = Stop::install(|| {}).context("cannot install the Ctrl-C handler")?;
    lanchat::status::say(client::CONNECTED);
    let source = if tty::stdin_is_terminal() {
        Source::Terminal {
            prompt: client::PROMPT.to_string(),
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
    };
    let report = client::run(stream, config, source, &stop, &mut std::io::stderr())?;
    Ok(match report.ended {
        Ended::Disconnected => {
            eprintln!("Disconnected from server");
            exit::FAILURE
        }
        Ended::Stopped => exit::INTERRUPTED,
        Ended::Eof if report.refused > 0 => exit::FAILURE,
        Ended::Eof => exit::SUCCESS,
    })
}
