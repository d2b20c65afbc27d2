//! The terminal: full screen while the window runs, and put back exactly
//! as it was on every way out (a normal exit, an error, a signal, a panic).
//!
//! [`Screen::enter`] switches to raw mode and the alternate screen and turns
//! on bracketed paste (a paste arrives as one event, not as typed keys) and
//! mouse reporting (for the wheel). Dropping the [`Screen`] undoes all of
//! it; a panic hook does the same before the panic message is printed, so
//! the message is readable and the shell is usable afterwards.

use std::io::{self, IsTerminal, Write};
use std::sync::Once;

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use crossterm::{cursor, execute};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

/// Whether stdin and stdout are both terminals.
pub fn is_terminal() -> bool {
    io::stdin().is_terminal() && io::stdout().is_terminal()
}

/// The full-screen terminal; restores the terminal when dropped.
pub struct Screen {
    /// The ratatui terminal drawing on stdout.
    pub terminal: Terminal<CrosstermBackend<io::Stdout>>,
}

impl Screen {
    /// Takes over the terminal.
    ///
    /// # Errors
    /// When the terminal cannot be switched (then it is put back first).
    pub fn enter() -> io::Result<Screen> {
        install_panic_hook();
        let result = (|| {
            enable_raw_mode()?;
            execute!(
                io::stdout(),
                EnterAlternateScreen,
                EnableBracketedPaste,
                EnableMouseCapture
            )?;
            Terminal::new(CrosstermBackend::new(io::stdout()))
        })();
        match result {
            Ok(terminal) => Ok(Screen { terminal }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts the terminal back: mouse and paste reporting off, the main screen
/// back, the cursor shown, raw mode off. Safe to call more than once.
pub fn restore() {
    let mut out = io::stdout();
    let _ = execute!(
        out,
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        cursor::Show
    );
    let _ = out.flush();
    let _ = disable_raw_mode();
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
