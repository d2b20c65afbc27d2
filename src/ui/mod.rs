//! `lanchat`: the chat window and the input box in one terminal window.
//!
//! ```text
//! terminal thread ──key, paste, mouse, resize──┐
//! receiver thread ──batches of messages────────┼──▶ one channel ──▶ App (keys, scrolling) + Session
//! signal handler ──SIGTERM, SIGHUP─────────────┘                      │
//!                                          draw(&App) at most ~30 times a second
//! Enter ──▶ Session::submit ──▶ Session::perform ──▶ Transport (UDP socket, room stream, IP Messenger)
//! ```
//!
//! The window's state and commands are the front-end-neutral
//! [`crate::session::Session`]; this module adds the terminal: keys, the
//! edit line, scrolling by rows, drawing.
//!
//! The transports live below the window ([`crate::transport`]) and never
//! see it: they get lines to send, and hand what they hear to a
//! [`Sink`] that feeds this loop's channel as [`Input::Chat`].
//!
//! * [`app`]: the edit line, the scroll position, what every key does;
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

use rust_i18n::t;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::Event as TermEvent;
use ratatui::layout::Rect;

use crate::chat::{self, Sink};
use crate::transport::Transport;
use crate::ui::app::App;
use crate::ui::draw::Areas;

/// What the window's loop hears: the terminal, the transport, a signal.
#[derive(Debug)]
pub enum Input {
    /// A key, paste, mouse or resize event.
    Term(TermEvent),
    /// What the transport heard.
    Chat(chat::Event),
    /// Ctrl-C in another terminal, SIGTERM or SIGHUP.
    Signal,
}

/// A sink feeding the window's channel, for the transport.
pub fn sink(events: SyncSender<Input>) -> Sink {
    Sink::new(move |e| events.send(Input::Chat(e)).is_ok())
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
pub fn channel() -> (SyncSender<Input>, Receiver<Input>) {
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
            "{}",
            t!(
                "window.outcome",
                received = self.received,
                senders = self.senders,
                sent = self.sent,
                dropped = self.dropped,
                draws = self.draws,
                secs = format!("{:.1}", self.elapsed.as_secs_f64())
            )
        )
    }
}

/// Starts the thread that reads the terminal's events into `events`.
pub fn spawn_terminal_reader(events: SyncSender<Input>) {
    thread::spawn(move || loop {
        match crossterm::event::read() {
            Ok(ev) => {
                if events.send(Input::Term(ev)).is_err() {
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
    events: &Receiver<Input>,
) -> std::io::Result<Outcome> {
    let mut screen = term::Screen::enter()?;
    let size = screen.terminal.size()?;
    let mut app = app;
    let mut looper = Loop {
        app: &mut app,
        transport,
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
        if looper.signal || looper.app.session().quit_code().is_some() {
            break;
        }
    }
    looper.transport.close();
    let session = looper.app.session();
    let code = if looper.signal {
        crate::exit::INTERRUPTED
    } else if session.lost() {
        crate::exit::FAILURE
    } else {
        session.quit_code().unwrap_or(0)
    };
    let sent = session.sent_count();
    drop(screen);
    let (received, senders, _) = app.session().counts();
    let drops = app.session().drops();
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
    signal: bool,
}

impl Loop<'_> {
    fn resize(&mut self, size: Rect) {
        let users = self.app.session().users().is_some();
        let inside = Areas::of(size, users).message_inside();
        self.app.resize(inside.width, inside.height);
    }

    /// Applies one event; returns whether the screen changed.
    fn handle(&mut self, ev: Input) -> bool {
        match ev {
            Input::Term(TermEvent::Key(key)) => {
                // Debug builds only: F12 panics when LANCHAT_TEST_PANIC is
                // set, so the tests can see a panic put the terminal back.
                #[cfg(debug_assertions)]
                if key.code == crossterm::event::KeyCode::F(12)
                    && std::env::var_os("LANCHAT_TEST_PANIC").is_some()
                {
                    panic!("LANCHAT_TEST_PANIC: F12 pressed");
                }
                for action in self.app.key(key) {
                    let now = SystemTime::now();
                    let back = self.app.session_mut().perform(action, self.transport, now);
                    if let Some(text) = back {
                        self.app.put_back(&text);
                    }
                }
            }
            Input::Term(TermEvent::Paste(text)) => self.app.paste(&text),
            Input::Term(TermEvent::Mouse(m)) => self.app.mouse(m),
            Input::Term(TermEvent::Resize(w, h)) => self.resize(Rect::new(0, 0, w, h)),
            Input::Term(_) => return false,
            Input::Chat(ev) => {
                // An own offer shows at once, like an own line.
                let own = matches!(&ev, chat::Event::Offer(o) if o.who == chat::Who::Me);
                self.app.session_mut().apply(ev, SystemTime::now());
                if own {
                    self.app.follow();
                }
            }
            Input::Signal => self.signal = true,
        }
        self.app.changed();
        true
    }
}
