//! `speedbump sessions`, `speedbump stop [ID]` and the hidden
//! `speedbump __serve` (the session server's process): see
//! docs/sessions.md.

use std::ffi::OsString;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Args, Parser};

use crate::server::client::{query, stop};
use crate::server::process::serve_main;
use crate::server::registry::{Listed, find, list};
use crate::server::wire::{ClientMsg, ServerMsg, SessionStatus};

/// `speedbump sessions`.
#[derive(Debug, Args)]
#[command(
    after_help = "Re-attach with `speedbump tui --attach [ID]`; end one with \
                        `speedbump stop [ID]`. See docs/sessions.md."
)]
pub struct SessionsArgs {
    /// One JSON object per session, one per line.
    #[arg(long)]
    pub json: bool,
}

/// `speedbump stop [ID]`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// The session (an id, or its first characters); the only one when
    /// omitted.
    #[arg(value_name = "ID")]
    pub id: Option<String>,
}

/// `speedbump __serve`: the session server process (started by `tui` and
/// `run --detach`, never by hand).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Seconds an idle session with no client keeps its workload.
    #[arg(long)]
    pub linger: f64,
    /// The `tui ...` or `run ...` arguments of the session.
    #[arg(last = true, required = true)]
    pub argv: Vec<OsString>,
}

/// How long the status of one session may take to come.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);
/// How long stopping a session may take (the engine stops the workload's
/// process group: SIGTERM, a grace period, SIGKILL).
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

fn status_of(session: &Listed) -> Option<SessionStatus> {
    match query(&session.dir, &ClientMsg::Status, QUERY_TIMEOUT) {
        Ok(Some(ServerMsg::Status { status })) => Some(status),
        _ => None,
    }
}

/// Runs `speedbump sessions`.
pub fn sessions(args: &SessionsArgs) -> Result<ExitCode> {
    let sessions = list()?;
    let now = crate::experiment::results::now_unix_s();
    if args.json {
        for session in &sessions {
            let value = serde_json::json!({
                "id": session.info.id,
                "pid": session.info.pid,
                "dir": session.dir,
                "command": session.info.command,
                "age_s": (now - session.info.started_unix_s).max(0.0),
                "linger_s": session.info.linger_s,
                "status": status_of(session),
            });
            println!("{value}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if sessions.is_empty() {
        println!("no session is running (speedbump tui starts one)");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<8}  {:<10}  {:<26}  {:>7}  {:>7}  COMMAND",
        "ID", "STATE", "EXPERIMENT", "AGE", "CLIENTS"
    );
    for session in &sessions {
        let age = crate::tui::format::seconds((now - session.info.started_unix_s).max(0.0));
        let (state, experiment, clients) = match status_of(session) {
            Some(status) => {
                let experiment = match (&status.experiment, status.stops_in_s) {
                    (Some(e), _) => e.clone(),
                    (None, Some(s)) if status.clients == 0 => {
                        format!("stops in {}", crate::tui::format::seconds(s))
                    }
                    (None, _) => format!("{} done", status.finished),
                };
                let state = if status.workload_exited && status.state != "stopping" {
                    "exited".to_owned()
                } else {
                    status.state
                };
                (state, experiment, status.clients.to_string())
            }
            None => ("no answer".into(), String::new(), "?".into()),
        };
        println!(
            "{:<8}  {:<10}  {:<26}  {:>7}  {:>7}  {}",
            session.info.id,
            state,
            experiment,
            age,
            clients,
            session.info.command.join(" ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `speedbump stop [ID]`.
pub fn stop_session(args: &StopArgs) -> Result<ExitCode> {
    let sessions = list()?;
    let session = find(&sessions, args.id.as_deref())?;
    stop(&session.dir, STOP_TIMEOUT)?;
    // The server closes the connection, then removes its directory and
    // exits: wait for both (briefly) so that "stopped" means gone.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let server_alive = || {
        std::fs::read_to_string(format!("/proc/{}/stat", session.info.pid)).is_ok_and(|stat| {
            !stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    };
    while (session.dir.exists() || server_alive()) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if session.dir.exists() {
        bail!(
            "session {} stopped but its directory {} is still there",
            session.info.id,
            session.dir.display()
        );
    }
    println!("speedbump: stopped session {}", session.info.id);
    Ok(ExitCode::SUCCESS)
}

/// Runs `speedbump __serve`.
pub fn serve(args: &ServeArgs) -> Result<ExitCode> {
    let linger = Duration::try_from_secs_f64(args.linger)
        .map_err(|_| anyhow::anyhow!("--linger {}: not a duration", args.linger))?;
    let argv = std::iter::once(OsString::from("speedbump")).chain(args.argv.iter().cloned());
    let cli = super::Cli::try_parse_from(argv)?;
    match cli.command {
        super::Command::Tui(tui) => serve_main(linger, || {
            let (source, options) = super::tui::prepare(&tui)?;
            Ok((crate::tui::engine::connect(source)?, options))
        })?,
        super::Command::Run(run) => serve_main(linger, || super::run::detached_engine(&run))?,
        _ => bail!("__serve serves `tui` and `run` sessions only"),
    }
    Ok(ExitCode::SUCCESS)
}
