//! `lanchat doctor`'s command line and its two ways of running: the
//! examination (exit 0 nothing wrong, 1 a problem found, 2 usage) and
//! `--answer`.

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use rust_i18n::t;

use super::answer::{self, Answer};
use super::Config;
use crate::encoding::Encoding;
use crate::{cli, exit, status};

/// `lanchat doctor [PEER] [-p PORT] [-e LABEL] [--ipmsg] [--room HOST[:PORT]] [--answer] [--json]`
#[derive(Parser, Debug)]
#[command(
    name = "lanchat doctor",
    bin_name = "lanchat doctor",
    version,
    about = t!("help.doctor.about").to_string(),
    after_help = t!("help.doctor.after").to_string()
)]
pub struct Args {
    #[arg(help = t!("help.doctor.peer").to_string(), value_name = "PEER", conflicts_with = "answer")]
    peer: Option<String>,
    #[arg(help = t!("help.doctor.port").to_string(), short, long)]
    port: Option<u16>,
    #[arg(help = t!("help.doctor.encoding").to_string(), short, long, value_name = "LABEL", default_value = "gb2312", value_parser = cli::decoding)]
    encoding: Encoding,
    #[arg(help = t!("help.doctor.ipmsg").to_string(), long)]
    ipmsg: bool,
    #[arg(help = t!("help.doctor.room").to_string(), long, value_name = "HOST[:PORT]", conflicts_with = "answer")]
    room: Option<String>,
    #[arg(help = t!("help.doctor.answer").to_string(), long)]
    answer: bool,
    #[arg(help = t!("help.doctor.bind").to_string(), short, long, value_name = "ADDR", requires = "answer", value_parser = cli::bind_addr)]
    bind: Option<std::net::IpAddr>,
    #[arg(help = t!("help.doctor.json").to_string(), long, conflicts_with = "answer")]
    json: bool,
}

/// Runs `lanchat doctor` with `args` (its own name first).
pub fn main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Args = crate::i18n::parse_from(args);
    let config = Config {
        port: args
            .port
            .unwrap_or(if args.ipmsg { crate::ipmsg::PORT } else { 3456 }),
        peer: args.peer.clone(),
        encoding: args.encoding,
        ipmsg: args.ipmsg,
        room: args.room.clone(),
    };
    if args.answer {
        let bind = args
            .bind
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        return exit::report("lanchat doctor", run_answer(&config, bind));
    }
    let report = super::examine(&config);
    if args.json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => print_out(&format!("{json}\n")),
            Err(e) => {
                status::say(&format!("lanchat doctor: {e}"));
                return ExitCode::from(exit::FAILURE);
            }
        }
    } else {
        print_out(&super::render(&report, config.peer.as_deref()));
    }
    ExitCode::from(report.exit_code())
}

/// Writes to stdout; a reader that went away (`| head`) is not an error
/// worth a panic.
pub(crate) fn print_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

fn run_answer(config: &Config, bind: std::net::IpAddr) -> anyhow::Result<u8> {
    let answer = Answer::bind(config.settings(), bind)?;
    if let Some(addr) = answer.local_addr() {
        // Scripts wait for this line: the same words in every language.
        status::say(&format!("listening on {addr}"));
    }
    answer::say_started(config.port);
    let stop = crate::stop::Stop::install(|| {})
        .map_err(|e| anyhow::anyhow!("{}: {e}", t!("stop.install_signals")))?;
    let started = Instant::now();
    let (probes, hosts) = answer.run(|| stop.is_set() || started.elapsed() >= answer::LIFETIME);
    status::say(&format!(
        "lanchat doctor: {}",
        t!("doctor.answer.ended", probes = probes, hosts = hosts)
    ));
    Ok(if stop.is_set() {
        exit::INTERRUPTED
    } else {
        exit::SUCCESS
    })
}
