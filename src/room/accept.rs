//! Taking connections in: the room's listener (TCP members), the page's
//! listener (HTTP requests until answered, or upgraded to a WebSocket
//! member), and admission: a connection the room refuses (`! room full`,
//! `! too many connections from ADDR`) is told why and closed.

use rust_i18n::t;
use std::io::{self, Write};
use std::time::Instant;

use mio::{Interest, Token};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Message;

use super::conn::{Conn, Link};
use super::entry::Entry;
use super::page;
use super::server::{Server, HTTP_BASE};
use super::web;
use super::web::http::{HttpConn, Step};
use crate::encoding::Encoding;
use crate::net::{self, canonical};

impl Server {
    /// Accepts TCP members until the listener has nobody waiting.
    pub(super) fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((mut stream, addr)) => {
                    self.accept_paused = false;
                    let addr = canonical(addr);
                    if let Err(refused) = self.room.admit(addr.ip(), Instant::now()) {
                        let _ = stream.write(refused.notice().as_bytes());
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let link = Link {
                        conn: Conn::Tcp(stream),
                        want_read: false,
                    };
                    self.join(link, addr, None);
                }
                Err(e) => {
                    if self.accept_failed(e) {
                        return;
                    }
                }
            }
        }
    }

    /// Accepts the page's connections (HTTP requests), within the bounds
    /// on requests under way.
    pub(super) fn accept_web(&mut self) {
        loop {
            let Some(side) = &mut self.web else {
                return;
            };
            match side.listener.accept() {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    // Past the bounds, the oldest of this address (or of
                    // all) makes room: it is closed.
                    let conn = HttpConn::new(stream, peer, Instant::now());
                    let (key, pushed_out) = side.http.insert(peer.ip(), conn);
                    for mut old in pushed_out {
                        let _ = self.poll.registry().deregister(&mut old.stream);
                        let _ = old.stream.shutdown(std::net::Shutdown::Write);
                    }
                    let Some(h) = side.http.get_mut(key) else {
                        continue;
                    };
                    let token = Token(HTTP_BASE + key);
                    let registered = self.poll.registry().register(
                        &mut h.stream,
                        token,
                        Interest::READABLE | Interest::WRITABLE,
                    );
                    if registered.is_err() {
                        side.http.remove(key);
                    }
                }
                Err(e) => {
                    if self.accept_failed(e) {
                        return;
                    }
                }
            }
        }
    }

    /// An HTTP connection can be read or written: read the request,
    /// decide, write the response; then close, or make it a member.
    pub(super) fn http_ready(&mut self, k: usize) {
        let Some(side) = &mut self.web else {
            return;
        };
        let Some(h) = side.http.get_mut(k) else {
            return;
        };
        match h.advance(&side.config.origins) {
            Step::Wait => {}
            Step::Close => self.close_http(k),
            Step::Upgrade => self.upgrade(k),
        }
    }

    fn close_http(&mut self, k: usize) {
        if let Some(side) = &mut self.web {
            if let Some(mut h) = side.http.remove(k) {
                let _ = self.poll.registry().deregister(&mut h.stream);
                let _ = h.stream.shutdown(std::net::Shutdown::Write);
            }
        }
    }

    /// HTTP connections that took too long to send a request are closed.
    pub(super) fn expire_http(&mut self, now: Instant) {
        let Some(side) = &self.web else {
            return;
        };
        let late: Vec<usize> = side
            .http
            .iter()
            .filter(|(_, h)| h.deadline <= now && !h.upgrading())
            .map(|(k, _)| k)
            .collect();
        for k in late {
            self.close_http(k);
        }
    }

    /// The 101 response is out: the connection is a page member now, if
    /// the room admits it (else it is told why and closed).
    fn upgrade(&mut self, k: usize) {
        let Some(side) = &mut self.web else {
            return;
        };
        let Some(mut h) = side.http.remove(k) else {
            return;
        };
        let _ = self.poll.registry().deregister(&mut h.stream);
        let addr = match h.stream.peer_addr() {
            Ok(a) => canonical(a),
            Err(_) => return,
        };
        let rest = h.take_rest();
        let max_line = self.room.config().max_line;
        let mut conn = page::conn(h.stream, rest, max_line);
        if let Err(refused) = self.room.admit(addr.ip(), Instant::now()) {
            if let Conn::Page(ws) = &mut conn {
                let _ = ws.write(Message::text(web::notice(&refused.notice())));
                page::say_goodbye(ws, CloseCode::Again, refused.reason());
            }
            return;
        }
        let hello = Entry::page(web::you(&addr.to_string(), max_line));
        let link = Link {
            conn,
            want_read: false,
        };
        if let Some(key) = self.join(link, addr, Some(hello)) {
            if let Some(Encoding::Label { encoding, .. }) =
                self.web.as_ref().map(|w| w.config.encode)
            {
                self.room.set_page_tongue(key, encoding);
            }
        }
    }

    /// Handles an accept error; returns whether to stop accepting for now.
    fn accept_failed(&mut self, e: io::Error) -> bool {
        match e.kind() {
            io::ErrorKind::WouldBlock => true,
            io::ErrorKind::Interrupted => false,
            _ if crate::sys::is_out_of_files(&e) => {
                // Out of descriptors: leave the connection in the backlog
                // and try again shortly.
                if !self.accept_paused && self.room.config().verbose {
                    crate::status::say(&format!(
                        "room-server: {}",
                        t!(
                            "room.cannot_accept",
                            why = net::describe(&e),
                            clients = self.room.len()
                        )
                    ));
                }
                self.accept_paused = true;
                true
            }
            // ECONNABORTED and the like concern one connection only.
            _ => false,
        }
    }
}
