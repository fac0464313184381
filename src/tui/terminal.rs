//! The real terminal: raw mode and the alternate screen on the way in, and
//! restored on every way out — normal return, error, panic (a panic hook)
//! and unwinding (a drop guard). Signals become a quit message (app.rs).

use std::io::{self, Stdout, Write};
use std::sync::Once;

use crossterm::cursor::{Hide, Show};
use crossterm::execute;
use crossterm::terminal::{
    Clear, ClearType, EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

/// The terminal type the app draws on.
pub type Tty = Terminal<CrosstermBackend<Stdout>>;

/// Restores the terminal when dropped.
#[derive(Debug)]
pub struct TerminalGuard {
    _private: (),
}

impl TerminalGuard {
    /// Enters raw mode and the alternate screen, hides the cursor, and
    /// installs the panic hook; the guard undoes it all.
    pub fn enter() -> io::Result<(Tty, TerminalGuard)> {
        install_panic_hook();
        enable_raw_mode()?;
        let guard = TerminalGuard { _private: () };
        let mut stdout = io::stdout();
        // Cleared here, not with `Terminal::clear`, which asks the terminal
        // for the cursor position and waits for the answer (slow over SSH,
        // and some terminals never answer).
        execute!(stdout, EnterAlternateScreen, Clear(ClearType::All), Hide)?;
        let terminal = Terminal::new(CrosstermBackend::new(stdout))?;
        Ok((terminal, guard))
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves the alternate screen, shows the cursor, ends raw mode. Safe to
/// call more than once.
pub fn restore() {
    let mut stdout = io::stdout();
    let _ = execute!(stdout, LeaveAlternateScreen, Show);
    let _ = disable_raw_mode();
    let _ = stdout.flush();
}

/// Restores the terminal before the default panic message is printed (so it
/// is readable, on the main screen).
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
