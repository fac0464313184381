//! The server as a process of its own: `speedbump __serve` (hidden), started
//! by `speedbump tui` and `speedbump run --detach`. It leaves the
//! terminal's session (`setsid`), so losing the terminal does not reach it,
//! creates the session directory, starts the engine, binds the socket, and
//! then says `ready <dir>` (or `error <why>`) on its stdout, which the
//! starting command reads before it attaches.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::experiment::EngineHandle;
use crate::experiment::results::now_unix_s;
use crate::ipc::Session;
use crate::tui::state::{Options, State};
use crate::tui::theme::Theme;

use super::registry::session_id;
use super::serve::Server;
use super::wire::SessionInfo;

/// The hidden subcommand.
pub const SERVE_COMMAND: &str = "__serve";

/// Starts `speedbump __serve --linger S -- ARGV...` (ARGV: the `tui ...` or
/// `run ...` arguments it serves) and waits for it to be ready; returns its
/// session directory. The server is reaped by a thread here if it ends
/// while this process still runs (a server that outlives it is adopted by
/// init).
pub fn start(linger: Duration, argv: &[OsString]) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the speedbump binary")?;
    let mut child = Command::new(exe)
        .arg(SERVE_COMMAND)
        .arg("--linger")
        .arg(linger.as_secs_f64().to_string())
        .arg("--")
        .args(argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start the session server")?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("the session server has no stdout"))?;
    let mut line = String::new();
    let read = BufReader::new(stdout).read_line(&mut line);
    std::thread::Builder::new()
        .name("speedbump-server-reaper".into())
        .spawn(move || child.wait())?;
    read.context("the session server did not start")?;
    let line = line.trim_end();
    if let Some(dir) = line.strip_prefix("ready ") {
        return Ok(PathBuf::from(dir));
    }
    match line.strip_prefix("error ") {
        Some(why) => bail!("{why}"),
        None => bail!("the session server ended before it was ready"),
    }
}

/// The body of `speedbump __serve`: `start_engine` (given the session
/// directory) launches the workload and returns the engine and the TUI
/// options the session runs with. Returns when the session ends, with its
/// directory removed.
pub fn serve_main(
    linger: Duration,
    start_engine: impl FnOnce() -> Result<(EngineHandle, Options)>,
) -> Result<()> {
    // Leave the terminal's session: its hangup must not reach the server
    // (the workload's process group is created inside the new session).
    // Fails only for a group leader, which a spawned child is not.
    let _ = rustix::process::setsid();
    let mut ready = std::io::stdout();
    let session = match Session::create(None) {
        Ok(session) => session,
        Err(e) => {
            let _ = writeln!(ready, "error cannot create the session directory: {e}");
            return Err(anyhow!("{e}"));
        }
    };
    let dir = session.path().to_path_buf();
    let outcome = (|| -> Result<State> {
        let (engine, options) = start_engine()?;
        let info = SessionInfo {
            id: session_id(&dir).unwrap_or_default(),
            pid: std::process::id(),
            command: options.command.clone(),
            started_unix_s: now_unix_s(),
            linger_s: linger.as_secs_f64(),
            options: serde_json::to_value(&options)?,
        };
        let state = State::new(
            options,
            Theme::resolve(None, true).map_err(|e| anyhow!("{e}"))?,
        );
        let server = Server::bind(&dir, info, linger, state, true)?;
        writeln!(ready, "ready {}", dir.display())?;
        ready.flush()?;
        server.run(engine)
    })();
    if let Err(e) = &outcome {
        // Only read when the server did not get as far as ready.
        let _ = writeln!(ready, "error {e:#}");
    }
    let _ = session.remove();
    outcome.map(|_| ())
}
