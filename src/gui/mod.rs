//! `lanchat --gui`: the same window drawn in the user's own browser, which
//! brings the Chinese input method, the fonts, the clipboard and drag and
//! drop. The window's state and commands are the same [`Session`] the
//! terminal window drives; this module serves it on loopback.
//!
//! ```text
//! transport ──chat::Event──┐
//! tabs ──PageMsg──────────┼──▶ one channel ──▶ Session (apply, submit, perform)
//! signal ─────────────────┘                       │
//!                 View::publish at most ~30 times a second
//! tab threads ◀── View::since(seen): the newest state, batched (server)
//! ```
//!
//! * [`view`]: what the tabs are sent (pure);
//! * [`http`]: a request, and who may make it (the token, `Host`, `Origin`);
//! * [`server`]: the page, the tabs' WebSockets, uploads into the spool;
//! * [`spool`]: the spool folder, locked while lanchat lives, swept when
//!   one was killed;
//! * [`open`]: opening the browser on the window.

pub mod http;
pub mod open;
pub mod server;
pub mod spool;
pub mod view;

use rust_i18n::t;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant, SystemTime};

use crate::chat::{self, FileCommand, Sink, Spool};
use crate::session::{Action, Level, Session};
use crate::transport::Transport;
pub use server::{PageMsg, Server};

/// What the window's loop hears.
#[derive(Debug)]
pub enum Input {
    /// What the transport heard.
    Chat(chat::Event),
    /// A tab's message (the tab's number).
    Page(u64, PageMsg),
    /// A tab said something: it waits in the server's inbox.
    Wake,
    /// Ctrl-C, SIGTERM or SIGHUP.
    Signal,
}

/// A sink feeding the window's channel, for the transport.
pub fn sink(events: SyncSender<Input>) -> Sink {
    Sink::new(move |e| events.send(Input::Chat(e)).is_ok())
}

/// Events queued for the loop at most; a receiver waits beyond it.
pub const EVENT_QUEUE: usize = 1024;
/// Events taken at most before publishing again.
const EVENTS_PER_FRAME: usize = 4096;

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
    /// Lines sent.
    pub sent: u64,
    /// Updates published to the tabs.
    pub publishes: u64,
    /// How long it ran.
    pub elapsed: Duration,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}",
            t!(
                "gui.outcome",
                received = self.received,
                sent = self.sent,
                updates = self.publishes,
                secs = format!("{:.1}", self.elapsed.as_secs_f64())
            )
        )
    }
}

/// Runs the window until the user leaves (Quit, `/quit`, `88`) or a
/// signal arrives. Closing every tab leaves it running.
pub fn run(
    mut session: Session,
    transport: &mut dyn Transport,
    events: &Receiver<Input>,
    server: &Server,
) -> Outcome {
    let start = Instant::now();
    let mut publishes = 0u64;
    let mut last = Instant::now() - server::FRAME;
    let mut dirty = true;
    let mut signal = false;
    loop {
        if dirty && last.elapsed() >= server::FRAME {
            if let Ok(mut view) = server.shared.view.lock() {
                if view.publish(&mut session) {
                    publishes += 1;
                }
            }
            last = Instant::now();
            dirty = false;
        }
        let wait = if dirty {
            server::FRAME.saturating_sub(last.elapsed())
        } else {
            Duration::from_secs(1)
        };
        match events.recv_timeout(wait) {
            Ok(ev) => {
                signal |= handle(&mut session, transport, server, ev);
                for _ in 0..EVENTS_PER_FRAME {
                    // What the user typed first, whatever the network brings.
                    for (tab, msg) in server.shared.take_inbox() {
                        page(&mut session, transport, server, tab, msg);
                    }
                    match events.try_recv() {
                        Ok(ev) => signal |= handle(&mut session, transport, server, ev),
                        Err(_) => break,
                    }
                }
                dirty = true;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        for (tab, msg) in server.shared.take_inbox() {
            page(&mut session, transport, server, tab, msg);
            dirty = true;
        }
        if signal || session.quit_code().is_some() {
            break;
        }
    }
    transport.close();
    // The last state (a tab sees what it ended with), then every tab closes.
    if let Ok(mut view) = server.shared.view.lock() {
        view.publish(&mut session);
    }
    server.shared.quit.store(true, Ordering::SeqCst);
    let code = if signal {
        crate::exit::INTERRUPTED
    } else if session.lost() {
        crate::exit::FAILURE
    } else {
        session.quit_code().unwrap_or(0)
    };
    Outcome {
        code,
        received: session.counts().0,
        sent: session.sent_count(),
        publishes,
        elapsed: start.elapsed(),
    }
}

/// Applies one event; returns whether it was a signal.
fn handle(
    session: &mut Session,
    transport: &mut dyn Transport,
    server: &Server,
    ev: Input,
) -> bool {
    match ev {
        Input::Chat(ev) => session.apply(ev, SystemTime::now()),
        Input::Page(tab, msg) => page(session, transport, server, tab, msg),
        Input::Wake => {}
        Input::Signal => return true,
    }
    false
}

/// What a tab asked.
fn page(
    session: &mut Session,
    transport: &mut dyn Transport,
    server: &Server,
    tab: u64,
    msg: PageMsg,
) {
    let now = SystemTime::now();
    match msg {
        PageMsg::Submit { id, text } => {
            let answer = match session.submit(&text) {
                Ok(actions) => {
                    let mut back = None;
                    for action in actions {
                        back = back.or(session.perform(action, transport, now));
                    }
                    match back {
                        // Sending failed for a reason of the network: the
                        // page puts the text back.
                        Some(text) => serde_json::json!({
                            "kind": "submitted", "id": id, "ok": false, "text": text,
                            "why": session.status().map(|(_, t)| t.clone()).unwrap_or_default(),
                        }),
                        None => serde_json::json!({"kind": "submitted", "id": id, "ok": true}),
                    }
                }
                Err(refused) => serde_json::json!({
                    "kind": "submitted", "id": id, "ok": false,
                    "why": session.status().map(|(_, t)| t.clone()).unwrap_or_default(),
                    // Where the culprit is, in characters (the page counts so).
                    "at": refused.at.map(|b| text[..b.min(text.len())].chars().count()),
                }),
            };
            server.shared.answer(tab, answer.to_string());
        }
        PageMsg::Offer { batch } => {
            let ok = !batch.is_empty()
                && batch
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            let dir = server.spool.join(&batch);
            if !ok || !dir.is_dir() {
                session.warn(Level::Error, t!("gui.nothing_handed_over"));
                return;
            }
            let cmd = FileCommand::SendSpool(Spool::new(dir));
            session.perform(Action::Files(cmd), transport, now);
        }
        PageMsg::Quit => {
            session.leave(0);
        }
    }
}
