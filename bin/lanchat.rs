//! `lanchat`: the chat window and the input box in one terminal window.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};
use lanchat::chat::{Mode, Sink};
use lanchat::encoding::Encoding;
use lanchat::filter::AllowList;
use lanchat::session::Session;
use lanchat::stop::Stop;
use lanchat::transport::ipmsg_mode::{self, Ipmsg};
use lanchat::transport::room_mode::Room;
use lanchat::transport::udp::{Udp, UdpConfig};
use lanchat::transport::{Journal, Transport};
use lanchat::ui::app::{App, Info, Wire, DEFAULT_SCROLLBACK};
use lanchat::{cli, exit, gui, net, room, status, ui};
use rust_i18n::t;

rust_i18n::i18n!("locales", fallback = "en");

#[derive(Parser, Debug)]
#[command(
    name = "lanchat",
    version,
    about = t!("help.lanchat.about").to_string(),
    long_about = t!("help.lanchat.long_about").to_string(),
    after_help = t!("help.lanchat.after").to_string()
)]
struct Args {
    #[arg(help = t!("help.lanchat.targets").to_string(), value_name = "TARGET")]
    targets: Vec<String>,
    #[arg(help = t!("help.lanchat.bind").to_string(), short, long, value_name = "ADDR", value_parser = cli::bind_addr)]
    bind: Option<IpAddr>,
    #[arg(help = t!("help.lanchat.port").to_string(), short, long)]
    port: Option<u16>,
    #[arg(help = t!("help.lanchat.encoding").to_string(), short, long, value_name = "LABEL", default_value = "gb2312", value_parser = cli::decoding)]
    encoding: Encoding,
    #[arg(help = t!("help.lanchat.room").to_string(), long, value_name = "HOST[:PORT]", conflicts_with_all = ["targets", "multicast", "ipmsg"])]
    room: Option<String>,
    #[arg(help = t!("help.lanchat.alias").to_string(), long, value_name = "IP=NAME", value_parser = alias)]
    alias: Vec<(IpAddr, String)>,
    #[command(flatten)]
    listen: cli::Listen,
    #[arg(help = t!("help.lanchat.scrollback").to_string(), long, value_name = "N", default_value_t = DEFAULT_SCROLLBACK as u64, value_parser = cli::positive)]
    scrollback: u64,
    #[arg(help = t!("help.lanchat.log").to_string(), long, value_name = "FILE")]
    log: Option<PathBuf>,
    #[arg(help = t!("help.lanchat.ipmsg").to_string(), long)]
    ipmsg: bool,
    #[arg(help = t!("help.lanchat.name").to_string(), long, value_name = "NAME")]
    name: Option<String>,
    #[arg(help = t!("help.lanchat.group").to_string(), long, value_name = "GROUP", requires = "ipmsg")]
    group: Option<String>,
    #[arg(help = t!("help.lanchat.download_dir").to_string(), long, value_name = "DIR", requires = "ipmsg")]
    download_dir: Option<PathBuf>,
    #[arg(help = t!("help.lanchat.gui").to_string(), long)]
    gui: bool,
    #[arg(help = t!("help.lanchat.gui_addr").to_string(), long, value_name = "ADDR:PORT", requires = "gui")]
    gui_addr: Option<SocketAddr>,
    #[arg(help = t!("help.lanchat.no_open").to_string(), long, requires = "gui")]
    no_open: bool,
    #[arg(long, value_enum, value_name = "WHAT", hide = true, exclusive = true)]
    generate: Option<cli::Generate>,
}

fn alias(text: &str) -> Result<(IpAddr, String), String> {
    let (ip, name) = text
        .split_once('=')
        .ok_or_else(|| t!("usage.lanchat.alias", text = text).into_owned())?;
    let ip = cli::bind_addr(ip)?;
    if name.trim().is_empty() {
        return Err(t!("usage.lanchat.alias_name", text = text).into_owned());
    }
    Ok((ip, name.trim().to_string()))
}

fn main() -> ExitCode {
    // `lanchat doctor …`: the doctor has its own options (README "lanchat doctor").
    if std::env::args_os().nth(1).is_some_and(|a| a == "doctor") {
        return lanchat::doctor::cli::main(std::env::args_os().skip(1));
    }
    // Started from Explorer (a double-click: no arguments, and the console
    // is lanchat's alone): the desktop window.
    let args = if std::env::args_os().len() == 1 && lanchat::sys::console_is_ours_alone() {
        lanchat::i18n::parse_from::<Args, _, _>(["lanchat", "--gui"])
    } else {
        lanchat::i18n::parse::<Args>()
    };
    if let Some(what) = args.generate {
        return exit::generated("lanchat", what, Args::command);
    }
    if args.targets.len() > 1 && !args.ipmsg {
        lanchat::i18n::refuse(Args::command(), &t!("usage.lanchat.one_target"));
    }
    if args.name.is_some() && !args.ipmsg && args.room.is_none() {
        lanchat::i18n::refuse(Args::command(), &t!("usage.lanchat.name"));
    }
    if args.gui_addr.is_some_and(|a| !a.ip().is_loopback()) {
        lanchat::i18n::refuse(Args::command(), &t!("usage.lanchat.gui_addr"));
    }
    if !args.gui && !ui::term::is_terminal() {
        status::say(&format!("lanchat: {}", t!("lanchat.needs_terminal")));
        return ExitCode::from(exit::FAILURE);
    }
    exit::report("lanchat", run(args))
}

fn run(args: Args) -> anyhow::Result<u8> {
    let send = match args.encoding {
        Encoding::Auto => Encoding::gb2312(),
        other => Encoding::for_encoding(other.label()).map_err(|e| anyhow::anyhow!(e))?,
    };
    let journal = match &args.log {
        Some(path) => Some(Journal::new(
            lanchat::journal::open_log(path)
                .with_context(|| t!("log.open", path = path.display()))?,
        )),
        None => None,
    };
    if args.gui {
        return run_gui(&args, send, journal);
    }
    let (events_tx, events) = ui::channel();
    let signals = events_tx.clone();
    let _stop = Stop::install(move || {
        let _ = signals.try_send(ui::Input::Signal);
    })
    .context(t!("stop.install_signals"))?;
    let started = start(&args, send, journal, ui::sink(events_tx.clone()))?;
    let session = session(&args, &started, send);
    let mut transport = started.transport;
    ui::spawn_terminal_reader(events_tx);
    let outcome = ui::run(App::with_session(session), transport.as_mut(), &events)?;
    status::say(&format!("lanchat: {outcome}"));
    Ok(outcome.code)
}

/// The desktop window: the session served on loopback, a browser opened on it.
fn run_gui(args: &Args, send: Encoding, journal: Option<Journal>) -> anyhow::Result<u8> {
    let addr = args
        .gui_addr
        .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    let listener = net::bind_tcp(addr)?;
    listener.set_nonblocking(false)?;
    let (events_tx, events) = gui::channel();
    let signals = events_tx.clone();
    let _stop = Stop::install(move || {
        let _ = signals.try_send(gui::Input::Signal);
    })
    .context(t!("stop.install_signals"))?;
    let started = start(args, send, journal, gui::sink(events_tx.clone()))?;
    let session = session(args, &started, send);
    let mut transport = started.transport;
    let server = gui::server::start(listener, events_tx).context(t!("gui.cannot_serve"))?;
    // Scripts wait for this line: the same words in every language.
    status::say(&format!("GUI on {}", server.url()));
    if !args.no_open && gui::open::has_display() {
        match gui::open::open(&server.url()) {
            Ok(how) => status::say(&format!("lanchat: {how}")),
            Err(why) => status::say(&format!("lanchat: {}", t!("gui.open_yourself", why = why))),
        }
    }
    let outcome = gui::run(session, transport.as_mut(), &events, &server);
    status::say(&format!("lanchat: {outcome}"));
    Ok(outcome.code)
}

/// Starts the mode's transport, its events going to `sink`.
fn start(
    args: &Args,
    send: Encoding,
    journal: Option<Journal>,
    sink: Sink,
) -> anyhow::Result<Started> {
    if args.room.is_some() {
        start_room(args, send, journal, sink)
    } else if args.ipmsg {
        start_ipmsg(args, send, journal, sink)
    } else {
        start_udp(args, journal, sink)
    }
}

/// The window's state for either front end.
fn session(args: &Args, started: &Started, send: Encoding) -> Session {
    let mode = started.info.mode;
    let mut session = Session::new(started.info.clone(), started.wire(send), scrollback(args));
    if mode != Mode::Udp {
        session.set_users(Vec::new()); // the 在线用户 pane
    }
    if mode == Mode::Ipmsg {
        session.select(None);
    }
    for (ip, name) in &args.alias {
        session.alias(*ip, name);
    }
    session
}

/// A transport started, and what the window needs to know of it.
struct Started {
    transport: Box<dyn Transport>,
    info: Info,
    /// The longest line it takes, encoded.
    max_bytes: usize,
}

impl Started {
    fn wire(&self, encoding: Encoding) -> Wire {
        Wire {
            encoding,
            max_bytes: self.max_bytes,
        }
    }
}

fn scrollback(args: &Args) -> usize {
    usize::try_from(args.scrollback).unwrap_or(usize::MAX)
}

fn start_room(
    args: &Args,
    send: Encoding,
    journal: Option<Journal>,
    sink: Sink,
) -> anyhow::Result<Started> {
    let spec = args.room.as_deref().unwrap_or_default();
    let (host, port) = net::split_host_port(spec, 5000).map_err(anyhow::Error::msg)?;
    let stream = room::client::connect(host, port, room::client::CONNECT_TIMEOUT)?;
    let peer = stream
        .peer_addr()
        .map(|a| net::canonical(a).to_string())
        .unwrap_or_else(|_| spec.to_string());
    let local = stream
        .local_addr()
        .map(|a| net::canonical(a).to_string())
        .unwrap_or_default();
    status::say(&t!("room.connected", peer = peer, local = local));
    let nick = match &args.name {
        Some(name) => Some(
            send.encode(&format!("/nick {name}"))
                .map_err(|e| anyhow::anyhow!("--name {name}: {e}"))?,
        ),
        None => None,
    };
    let room = Room::start(stream, peer.clone(), args.encoding, journal, sink, nick)?;
    Ok(Started {
        info: Info {
            mode: Mode::Room,
            title: format!("聊天室 {peer}"),
            listen: local,
            target: room.target_label(),
            encoding: args.encoding.label().to_string(),
        },
        transport: Box::new(room),
        max_bytes: 65_536,
    })
}

fn start_ipmsg(
    args: &Args,
    send: Encoding,
    journal: Option<Journal>,
    sink: Sink,
) -> anyhow::Result<Started> {
    let port = args.port.unwrap_or(lanchat::ipmsg::PORT);
    let bind = SocketAddr::new(args.bind.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), port);
    let bound = net::bind_udp(bind, net::DEFAULT_RECV_BUFFER, false)?;
    let local = bound.socket.local_addr()?;
    status::say(&format!("listening on {local}"));
    let config = ipmsg_mode::Config {
        nick: args.name.clone(),
        group: args.group.clone().unwrap_or_default(),
        encoding: send,
        targets: args.targets.clone(),
        download_dir: args
            .download_dir
            .clone()
            .or_else(dirs::download_dir)
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    let ipmsg = Ipmsg::start(bound.socket, config, journal, sink).map_err(anyhow::Error::msg)?;
    Ok(Started {
        info: Info {
            mode: Mode::Ipmsg,
            title: t!("title.ipmsg").into_owned(),
            listen: local.to_string(),
            target: ipmsg.target_label(),
            encoding: send.label().to_string(),
        },
        transport: Box::new(ipmsg),
        max_bytes: lanchat::ipmsg::MAX_TEXT,
    })
}

fn start_udp(args: &Args, journal: Option<Journal>, sink: Sink) -> anyhow::Result<Started> {
    let port = args.port.unwrap_or(3456);
    let ip = args.bind.unwrap_or(match args.listen.multicast {
        Some(IpAddr::V6(_)) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    });
    let shared = args.listen.multicast.is_some();
    let bound = net::bind_udp(SocketAddr::new(ip, port), net::DEFAULT_RECV_BUFFER, shared)?;
    let local = bound.socket.local_addr()?;
    status::say(&format!("listening on {local}"));
    let max_bytes = if local.is_ipv6() {
        net::MAX_PAYLOAD_V6
    } else {
        net::MAX_PAYLOAD_V4
    };
    let config = UdpConfig {
        decode: args.encoding,
        allow: AllowList::new(args.listen.allow.clone()),
        max_rate: args.listen.max_rate(),
        multicast: args.listen.multicast,
        interface: args.listen.interface.clone(),
    };
    let target = args.targets.first().map(String::as_str);
    let udp =
        Udp::start(bound.socket, config, target, journal, sink).map_err(anyhow::Error::msg)?;
    Ok(Started {
        info: Info {
            mode: Mode::Udp,
            title: lanchat::window::BANNER.trim_matches('-').to_string(),
            listen: local.to_string(),
            target: udp.target_label(),
            encoding: args.encoding.label().to_string(),
        },
        transport: Box::new(udp),
        max_bytes,
    })
}
