//! Drawing the window from an [`App`]: the message pane (`UDP聊天室`), the
//! users pane in IP Messenger mode (`在线用户`), the input box (`输入框`) and
//! the status line.
//!
//! Messages are laid out bottom-up from the row [`App::bottom`] names, so
//! only what is visible is wrapped, however long the scrollback. Every
//! size works: below 7 rows the boxes lose their borders, below 3 only the
//! input line and the status remain, and nothing is subtracted from a
//! `u16` that could go below zero.

use rust_i18n::t;
use std::hash::{Hash, Hasher};

use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;

use crate::ui::app::{App, Level, Mode, Who};

/// Where each part of the window goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    /// The message pane, with its border when there is room.
    pub messages: Rect,
    /// The users pane (IP Messenger mode, wide enough screens).
    pub users: Option<Rect>,
    /// The input box.
    pub input: Rect,
    /// The status line.
    pub status: Rect,
    /// Whether the boxes have borders.
    pub bordered: bool,
}

impl Areas {
    /// Splits a screen of `size`; `users` asks for the users pane.
    pub fn of(size: Rect, users: bool) -> Areas {
        let (w, h) = (size.width, size.height);
        let bordered = h >= 7 && w >= 8;
        let row = |y: u16, height: u16| Rect::new(size.x, size.y + y, w, height);
        let (messages, input, status) = if bordered {
            (row(0, h - 4), row(h - 4, 3), row(h - 1, 1))
        } else if h >= 3 {
            (row(0, h - 2), row(h - 2, 1), row(h - 1, 1))
        } else if h == 2 {
            (row(0, 0), row(0, 1), row(1, 1))
        } else {
            (row(0, 0), row(0, h), row(h, 0))
        };
        let (messages, users) = if users && w >= 60 && messages.height > 0 {
            let side = (w / 3).min(32);
            let left = Rect::new(messages.x, messages.y, w - side, messages.height);
            let right = Rect::new(messages.x + w - side, messages.y, side, messages.height);
            (left, Some(right))
        } else {
            (messages, None)
        };
        Areas {
            messages,
            users,
            input,
            status,
            bordered,
        }
    }

    /// The inside of the message pane (what [`App::resize`] wants).
    pub fn message_inside(&self) -> Rect {
        if self.bordered {
            Block::default().borders(Borders::ALL).inner(self.messages)
        } else {
            self.messages
        }
    }
}

/// Colours senders are told apart by (a sender keeps its colour).
const PALETTE: [Color; 8] = [
    Color::Cyan,
    Color::Yellow,
    Color::Magenta,
    Color::LightBlue,
    Color::LightRed,
    Color::LightGreen,
    Color::LightMagenta,
    Color::LightCyan,
];

/// The style of a sender's name: `me` bold green, notices dim, each peer a
/// colour of its own (from its address, not its alias).
pub fn sender_style(who: &Who) -> Style {
    let key = match who {
        Who::Me => return Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
        Who::Notice => return Style::new().fg(Color::DarkGray),
        Who::Peer(addr) => addr.to_string(),
        Who::Member(m) | Who::Private(m) => m.label.clone(),
        Who::Nick { addr, .. } => addr.ip().to_string(),
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    Style::new().fg(PALETTE[(h.finish() % PALETTE.len() as u64) as usize])
}

/// Draws the whole window.
pub fn draw(app: &App, frame: &mut Frame) {
    let areas = Areas::of(frame.area(), app.session().users().is_some());
    draw_messages(app, frame, &areas);
    if let (Some(area), Some(users)) = (areas.users, app.session().users()) {
        let lines: Vec<Line> = users
            .iter()
            .map(|u| {
                let selected = app.session().selected() == Some(u.addr);
                let mut style = Style::new();
                if selected {
                    style = style.add_modifier(Modifier::REVERSED);
                }
                if u.absent {
                    style = style.fg(Color::DarkGray);
                }
                // A room member is named by ip:port (its name first, when
                // it took one); an IP Messenger user by its nick and IP.
                let addr = match app.session().info().mode {
                    Mode::Room => u.addr.to_string(),
                    _ => u.addr.ip().to_string(),
                };
                // A room's operator: `@` before its name, as IRC shows it.
                let op = u.group == crate::chat::OPERATOR;
                let nick = if op {
                    format!("@{}", u.nick)
                } else {
                    u.nick.clone()
                };
                let mut spans = vec![
                    Span::styled(nick, style.add_modifier(Modifier::BOLD)),
                    Span::styled(
                        if u.nick.is_empty() && !op {
                            addr
                        } else {
                            format!(" {addr}")
                        },
                        style,
                    ),
                ];
                if !u.group.is_empty() && !op {
                    spans.push(Span::styled(
                        format!(" {}", u.group),
                        style.fg(Color::DarkGray),
                    ));
                }
                if u.absent {
                    spans.push(Span::styled(" (离开)", style));
                }
                Line::from(spans)
            })
            .collect();
        let title = format!("在线用户 {}", users.len());
        frame.render_widget(Paragraph::new(lines).block(boxed(&title)), area);
    }
    draw_input(app, frame, &areas);
    frame.render_widget(Paragraph::new(status_line(app)), areas.status);
}

fn boxed(title: &str) -> Block<'_> {
    Block::default().borders(Borders::ALL).title(title)
}

fn draw_messages(app: &App, frame: &mut Frame, areas: &Areas) {
    if areas.messages.height == 0 {
        return;
    }
    let inside = areas.message_inside();
    let (width, height) = (usize::from(inside.width), usize::from(inside.height));
    let mut rows: Vec<Line> = Vec::with_capacity(height);
    if let Some((bottom, bottom_row)) = app.bottom() {
        let entries = app.session().entries();
        let mut i = bottom;
        let mut last_row = Some(bottom_row);
        'fill: loop {
            let e = &entries[i];
            let text = app.session().display_text(e);
            let label = app.session().sender_label(&e.who);
            let layout = app.entry_rows(e, width);
            let upto = last_row.unwrap_or(layout.len() - 1).min(layout.len() - 1);
            for r in (0..=upto).rev() {
                if rows.len() == height {
                    break 'fill;
                }
                let (indent, range) = &layout[r];
                let piece = text[range.clone()].replace('\t', " ");
                let line = if r == 0 {
                    let mut spans = vec![];
                    if !e.time.is_empty() {
                        spans.push(Span::styled(
                            format!("{} ", e.time),
                            Style::new().fg(Color::DarkGray),
                        ));
                    }
                    spans.push(Span::styled(label.clone(), sender_style(&e.who)));
                    spans.push(Span::raw(" "));
                    spans.push(Span::raw(piece));
                    Line::from(spans)
                } else {
                    Line::from(vec![Span::raw(" ".repeat(*indent)), Span::raw(piece)])
                };
                rows.push(line);
            }
            last_row = None;
            if i == 0 {
                break;
            }
            i -= 1;
        }
    }
    rows.reverse();
    // Bottom-aligned: fewer messages than rows leave the top empty. An
    // empty window says how to begin (where lines go, where the commands
    // are).
    let mut lines = vec![Line::default(); height.saturating_sub(rows.len())];
    if app.session().entries().is_empty() {
        let hints = app.session().hints();
        for (line, hint) in lines.iter_mut().zip(hints) {
            *line = Line::styled(hint, Style::new().add_modifier(Modifier::DIM));
        }
    }
    lines.extend(rows);
    let para = Paragraph::new(lines);
    if areas.bordered {
        frame.render_widget(
            para.block(boxed(&app.session().info().title)),
            areas.messages,
        );
    } else {
        frame.render_widget(para, areas.messages);
    }
}

fn draw_input(app: &App, frame: &mut Frame, areas: &Areas) {
    if areas.input.height == 0 || areas.input.width == 0 {
        return;
    }
    let inside = if areas.bordered {
        Block::default().borders(Borders::ALL).inner(areas.input)
    } else {
        areas.input
    };
    let view = app.editor().view(inside.width);
    let para = Paragraph::new(view.text);
    if areas.bordered {
        frame.render_widget(para.block(boxed("输入框")), areas.input);
    } else {
        frame.render_widget(para, areas.input);
    }
    if inside.width > 0 && inside.height > 0 {
        // The real cursor at the edit point: input methods draw there.
        frame.set_cursor_position(Position::new(
            inside.x + view.cursor_col.min(inside.width - 1),
            inside.y,
        ));
    }
}

/// The mode as the status line names it (the room in the reader's words).
fn mode_name(mode: Mode) -> std::borrow::Cow<'static, str> {
    match mode {
        Mode::Room => t!("window.mode_room"),
        other => other.label().into(),
    }
}

/// The status line: the latest message first (it is what the user must
/// see), then mode, addresses, encoding, counts.
pub fn status_line(app: &App) -> Line<'static> {
    let info = app.session().info();
    let (received, senders, evicted) = app.session().counts();
    let drops = app.session().drops();
    let mut spans = Vec::new();
    if app.session().newcomer() {
        spans.push(Span::styled(
            t!("window.newcomer").into_owned(),
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ));
        spans.push(Span::raw(" "));
    }
    if let Some((level, text)) = app.session().status() {
        let (mark, style) = match level {
            Level::Info => ("", Style::new().fg(Color::Black).bg(Color::Cyan)),
            Level::Warning => ("⚠ ", Style::new().fg(Color::Black).bg(Color::Yellow)),
            Level::Error => ("✗ ", Style::new().fg(Color::White).bg(Color::Red)),
        };
        spans.push(Span::styled(format!("{mark}{text}"), style));
        spans.push(Span::raw(" "));
    }
    if app.unseen() > 0 {
        spans.push(Span::styled(
            t!("window.unseen", n = app.unseen()).into_owned(),
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ));
    }
    let mut facts = t!(
        "window.facts",
        mode = mode_name(info.mode),
        listen = info.listen,
        target = info.target,
        encoding = info.encoding,
        received = received,
        senders = senders
    )
    .into_owned();
    if drops.allow + drops.rate > 0 {
        facts.push_str(&t!("window.facts_dropped", n = drops.allow + drops.rate));
    }
    if drops.malformed > 0 && info.mode == Mode::Ipmsg {
        facts.push_str(&t!("window.facts_malformed", n = drops.malformed));
    }
    if evicted > 0 {
        facts.push_str(&t!("window.facts_evicted", n = evicted));
    }
    if let Some(note) = app.session().transfers_note() {
        facts.push_str(&format!(" │ {note}"));
    }
    spans.push(Span::styled(
        facts,
        Style::new().add_modifier(Modifier::DIM),
    ));
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::Encoding;
    use crate::ui::app::{Drops, Incoming, Info, Outgoing, Wire};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn app() -> App {
        App::new(
            Info {
                mode: Mode::Udp,
                title: "UDP聊天室".into(),
                listen: "0.0.0.0:3456".into(),
                target: "broadcast (192.168.1.255)".into(),
                encoding: "gb2312".into(),
            },
            Wire {
                encoding: Encoding::gb2312(),
                max_bytes: 65_507,
            },
            100,
        )
    }

    fn screen(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
        let areas = Areas::of(Rect::new(0, 0, w, h), app.session().users().is_some());
        let inside = areas.message_inside();
        app.resize(inside.width, inside.height);
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| draw(app, f)).unwrap();
        t
    }

    fn chat() -> App {
        let mut a = app();
        let from = |s: &str| Who::Peer(s.parse().unwrap());
        a.session_mut()
            .alias("192.168.1.22".parse().unwrap(), "老王");
        a.session_mut().receive(
            vec![
                Incoming {
                    time: "09:15:02".into(),
                    who: from("192.168.1.21:3456"),
                    text: "大家好，今天的实验课改到 3 点".into(),
                },
                Incoming {
                    time: "09:15:30".into(),
                    who: from("192.168.1.22:3456"),
                    text: "收到 👍".into(),
                },
                Incoming {
                    time: "09:16:01".into(),
                    who: from("192.168.1.23:50412"),
                    text: "\\x1b[31mfake\\n192.168.1.1:3456\\nnot a sender line \\u{202e}".into(),
                },
            ],
            Drops::default(),
        );
        a.session_mut().sent(
            "09:16:40".into(),
            &[Outgoing {
                text: "好的，我会把实验报告带来。This line is long enough to wrap at eighty columns, by design.".into(),
                bytes: vec![],
            }],
            None,
        );
        a.paste("正在输入中文");
        a
    }

    #[test]
    fn an_empty_window_says_how_to_begin_and_points_to_help() {
        let mut a = app();
        let t = screen(&mut a, 80, 12);
        let text: String = t
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|c| c.symbol())
            .collect();
        assert!(text.contains("/help lists the keys and commands"), "{text}");
        assert!(
            text.contains("it goes to broadcast (192.168.1.255)"),
            "{text}"
        );
        let status = status_line(&a).to_string();
        assert!(status.starts_with("/help: keys and commands "), "{status}");
        // Once something came, the window is the messages', the status the facts'.
        a.session_mut().receive(
            vec![Incoming {
                time: "12:00:00".into(),
                who: Who::Peer("10.0.0.2:3456".parse().unwrap()),
                text: "hi".into(),
            }],
            Drops::default(),
        );
        assert!(!status_line(&a).to_string().contains("/help"));
    }

    #[test]
    fn screen_80x24() {
        let mut a = chat();
        let t = screen(&mut a, 80, 24);
        insta::assert_snapshot!(t.backend());
        // The real cursor sits after 正在输入中文 (12 columns), inside the box.
        let pos = t.backend().cursor_position();
        assert_eq!((pos.x, pos.y), (1 + 12, 24 - 4 + 1));
    }

    #[test]
    fn screen_with_an_error_and_new_messages_below() {
        let mut a = chat();
        a.session_mut().warn(
            Level::Error,
            "'😀' (U+1F600) cannot be written in gb2312; try -e gb18030 or -e utf-8",
        );
        let _ = screen(&mut a, 80, 10);
        a.key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::PageUp,
            crossterm::event::KeyModifiers::NONE,
        ));
        a.session_mut().receive(
            vec![Incoming {
                time: "09:17:00".into(),
                who: Who::Notice,
                text: "unseen".into(),
            }],
            Drops::default(),
        );
        let t = screen(&mut a, 80, 10);
        insta::assert_snapshot!(t.backend());
    }

    #[test]
    fn tiny_screens_never_panic() {
        for (w, h) in [
            (0, 0),
            (1, 1),
            (2, 1),
            (1, 2),
            (3, 2),
            (10, 3),
            (20, 5),
            (7, 7),
            (12, 6),
            (40, 7),
        ] {
            let mut a = chat();
            let _ = screen(&mut a, w, h);
        }
        let mut a = chat();
        let t = screen(&mut a, 20, 5);
        insta::assert_snapshot!("tiny_20x5", t.backend());
    }
}
