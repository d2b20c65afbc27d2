//! `lanchat`: the chat window and the input box in one terminal window.
//!
//! ```text
//! terminal thread ──key, paste, mouse, resize──┐
//! receiver thread ──batches of messages────────┼──▶ one channel ──▶ App (pure state)
//! signal handler ──SIGTERM, SIGHUP─────────────┘                      │
//!                                          draw(&App) at most ~30 times a second
//! App says "send" ──▶ Transport (UDP socket, room stream, IP Messenger)
//! ```
//!
//! The transports live below the window ([`crate::transport`]) and never
//! see it: they get lines to send, and hand what they hear to a
//! [`Sink`] that feeds this loop's channel as [`Event::Chat`].
//!
//! * [`app`]: the state and what every key and message does to it;
//! * [`editor`]: the input line, by grapheme and display width;
//! * [`wrap`]: wrapping messages by display width;
//! * [`draw`]: the screen;
//! * [`term`]: taking the terminal over and always giving it back.
//!
//! Receiving never waits for drawing: the receiver hands over whole
//! batches, the loop takes every event waiting before it draws, and it
//! draws at most once per [`FRAME`], so a flood costs a bounded number of
//! redraws while a typed key still shows within one frame.

pub mod app;
pub mod draw;
pub mod editor;
pub mod term;
pub mod wrap;

use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::Event as TermEvent;
use ratatui::layout::Rect;

use crate::chat::{self, Sink};
use crate::message::local_hms;
use crate::transport::Transport;
use crate::ui::app::{Action, App, Level};
use crate::ui::draw::Areas;

/// What the window's loop hears.
#[derive(Debug)]
pub enum Event {
    /// A key, paste, mouse or resize event.
    Term(TermEvent),
    /// What the transport heard.
    Chat(chat::Event),
    /// Ctrl-C in another terminal, SIGTERM or SIGHUP.
    Signal,
}

/// A sink feeding the window's channel, for the transport.
pub fn sink(events: SyncSender<Event>) -> Sink {
    Sink::new(move |e| events.send(Event::Chat(e)).is_ok())
}

/// The shortest time between two redraws (about 30 a second).
pub const FRAME: Duration = Duration::from_millis(33);
/// Events taken at most before drawing again (so a flood cannot hold the
/// screen still).
const EVENTS_PER_FRAME: usize = 4096;
/// Events queued for the window at most; a receiver waits beyond it (the
/// kernel's socket buffer takes the rest of a flood).
pub const EVENT_QUEUE: usize = 1024;

/// The channel every source of events writes to.
pub fn channel() -> (SyncSender<Event>, Receiver<Event>) {
    std::sync::mpsc::sync_channel(EVENT_QUEUE)
}

/// What a run of the window did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The exit code: 0 asked to leave, 1 the connection was lost before
    /// leaving, 130 a signal.
    pub code: u8,
    /// Messages received.
    pub received: u64,
    /// Distinct senders.
    pub senders: usize,
    /// Lines sent.
    pub sent: u64,
    /// Messages dropped by `--allow` and `--max-rate`.
    pub dropped: u64,
    /// Redraws.
    pub draws: u64,
    /// How long it ran.
    pub elapsed: Duration,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} received from {} senders, {} sent, {} dropped; {} redraws in {:.1} s",
            self.received,
            self.senders,
            self.sent,
            self.dropped,
            self.draws,
            self.elapsed.as_secs_f64()
        )
    }
}

/// Starts the thread that reads the terminal's events into `events`.
pub fn spawn_terminal_reader(events: SyncSender<Event>) {
    thread::spawn(move || loop {
        match crossterm::event::read() {
            Ok(ev) => {
                if events.send(Event::Term(ev)).is_err() {
                    return;
                }
            }
            Err(_) => return,
        }
    });
}

/// Runs the window until the user leaves or a signal arrives. The terminal
/// is taken over here and given back before returning.
///
/// # Errors
/// When the terminal cannot be used.
pub fn run(
    app: App,
    transport: &mut dyn Transport,
    events: &Receiver<Event>,
) -> std::io::Result<Outcome> {
    let mut screen = term::Screen::enter()?;
    let size = screen.terminal.size()?;
    let mut app = app;
    let mut looper = Loop {
        app: &mut app,
        transport,
        sent: 0,
        lost: false,
        signal: false,
    };
    looper.resize(Rect::new(0, 0, size.width, size.height));
    let start = Instant::now();
    let mut draws = 0u64;
    let mut dirty = true;
    let mut last_draw = Instant::now() - FRAME;
    loop {
        if dirty && last_draw.elapsed() >= FRAME {
            screen.terminal.draw(|f| draw::draw(looper.app, f))?;
            last_draw = Instant::now();
            draws += 1;
            dirty = false;
        }
        let wait = if dirty {
            FRAME.saturating_sub(last_draw.elapsed())
        } else {
            Duration::from_secs(1)
        };
        match events.recv_timeout(wait) {
            Ok(ev) => {
                dirty |= looper.handle(ev);
                // Everything else already waiting, before the next draw.
                for _ in 0..EVENTS_PER_FRAME {
                    match events.try_recv() {
                        Ok(ev) => dirty |= looper.handle(ev),
                        Err(_) => break,
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if looper.signal || looper.app.quit_code().is_some() {
            break;
        }
    }
    looper.transport.close();
    let code = if looper.signal {
        crate::exit::INTERRUPTED
    } else if looper.lost {
        crate::exit::FAILURE
    } else {
        looper.app.quit_code().unwrap_or(0)
    };
    let sent = looper.sent;
    drop(screen);
    let (received, senders, _) = app.counts();
    let drops = app.drops();
    Ok(Outcome {
        code,
        received,
        senders,
        sent,
        dropped: drops.allow + drops.rate,
        draws,
        elapsed: start.elapsed(),
    })
}

/// The loop's state between events.
struct Loop<'a> {
    app: &'a mut App,
    transport: &'a mut dyn Transport,
    sent: u64,
    /// The connection was lost (room mode): leaving then exits 1.
    lost: bool,
    signal: bool,
}

impl Loop<'_> {
    fn resize(&mut self, size: Rect) {
        let inside = Areas::of(size, self.app.users().is_some()).message_inside();
        self.app.resize(inside.width, inside.height);
    }

    /// Applies one event; returns whether the screen changed.
    fn handle(&mut self, ev: Event) -> bool {
        match ev {
            Event::Term(TermEvent::Key(key)) => {
                // Debug builds only: F12 panics when LANCHAT_TEST_PANIC is
                // set, so the tests can see a panic put the terminal back.
                #[cfg(debug_assertions)]
                if key.code == crossterm::event::KeyCode::F(12)
                    && std::env::var_os("LANCHAT_TEST_PANIC").is_some()
                {
                    panic!("LANCHAT_TEST_PANIC: F12 pressed");
                }
                for action in self.app.key(key) {
                    self.act(action);
                }
            }
            Event::Term(TermEvent::Paste(text)) => self.app.paste(&text),
            Event::Term(TermEvent::Mouse(m)) => self.app.mouse(m),
            Event::Term(TermEvent::Resize(w, h)) => self.resize(Rect::new(0, 0, w, h)),
            Event::Term(_) => return false,
            Event::Chat(ev) => self.chat(ev),
            Event::Signal => self.signal = true,
        }
        true
    }

    fn chat(&mut self, ev: chat::Event) {
        use chat::Event::*;
        match ev {
            Received(batch, drops) => self.app.receive(batch, drops),
            Unreachable(_, warning) | Warning(warning) => self.app.warn(Level::Warning, warning),
            Disconnected(why) => {
                self.lost = true;
                self.app.notice(local_hms(SystemTime::now()), &why);
                self.app
                    .warn(Level::Error, format!("{why}; /quit to leave"));
            }
            Users(users) => self.app.set_users(users),
            Presence(line) => self.app.notice(local_hms(SystemTime::now()), &line),
            Delivery { seq, mark } => self.app.set_mark(seq, mark),
            Offer(offer) => self.app.offer(local_hms(SystemTime::now()), offer),
            Progress { n, text, fetchable } => self.app.progress(n, &text, fetchable),
            Transfers(n) => self.app.set_transfers(n),
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Send(lines) => {
                let now = SystemTime::now();
                let mark = self.app.pending_mark();
                // The entries first, so delivery reports can find them.
                let seqs = self.app.sent(local_hms(now), &lines, mark);
                match self.transport.send(&lines, &seqs, self.app.selected(), now) {
                    Ok(warnings) => {
                        self.sent += lines.len() as u64;
                        for warning in warnings {
                            self.app.warn(Level::Warning, warning);
                        }
                    }
                    Err(e) => {
                        self.app.unsend(&seqs);
                        self.app.send_failed(&lines, &e.0);
                    }
                }
            }
            Action::Command(line) => {
                let now = SystemTime::now();
                match self
                    .transport
                    .send(std::slice::from_ref(&line), &[], None, now)
                {
                    Ok(_) => self.app.command_sent(local_hms(now), &line),
                    Err(e) => self.app.warn(Level::Error, format!("not sent: {}", e.0)),
                }
            }
            Action::Files(cmd) => match self.transport.files(cmd, self.app.selected()) {
                Ok(said) => self.app.warn(Level::Info, said),
                Err(why) => self.app.warn(Level::Error, why),
            },
            Action::SetTarget(spec) => match self.transport.set_target(&spec) {
                Ok(label) => self.app.set_target(label),
                Err(why) => self.app.warn(Level::Error, why),
            },
            Action::Quit(_) => {}
        }
    }
}
