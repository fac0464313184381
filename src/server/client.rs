//! The client side, blocking (the TUI and the `sessions`/`stop` commands
//! need no event loop of their own): [`attach`] bridges the socket to the
//! experiment protocol's channels, so the TUI runs on an [`EngineHandle`]
//! exactly as it would on an engine in its own process; [`query`] asks one
//! question.

use std::io::BufReader;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::experiment::{Command, EngineHandle, Update};

use super::wire::{
    ClientMsg, PROTOCOL_VERSION, Role, SOCKET_NAME, ServerMsg, SessionInfo, read_msg, write_msg,
};

/// How long a server has to answer hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// An attached client.
#[derive(Debug)]
pub struct Attached {
    /// Commands to the session's engine and its updates (replay first).
    pub engine: EngineHandle,
    /// The session.
    pub info: SessionInfo,
    /// Whether this client may send commands.
    pub control: bool,
}

/// Connects, says hello, reads the welcome. Returns the stream (for
/// writing) and a reader on it (for everything after the welcome).
fn connect(
    dir: &Path,
    role: Role,
) -> Result<(UnixStream, BufReader<UnixStream>, SessionInfo, bool)> {
    let socket = dir.join(SOCKET_NAME);
    let mut stream = UnixStream::connect(&socket)
        .with_context(|| format!("cannot connect to the session at {}", socket.display()))?;
    stream.set_read_timeout(Some(HELLO_TIMEOUT))?;
    write_msg(
        &mut stream,
        &ClientMsg::Hello {
            version: PROTOCOL_VERSION,
            role,
        },
    )?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let answer = read_msg::<ServerMsg>(&mut reader)
        .with_context(|| format!("the session at {} did not answer", dir.display()))?;
    stream.set_read_timeout(None)?;
    match answer {
        Some(ServerMsg::Welcome { info, control, .. }) => Ok((stream, reader, info, control)),
        Some(ServerMsg::Refused { reason }) => bail!("{reason}"),
        _ => bail!("the session at {} did not say welcome", dir.display()),
    }
}

/// Attaches to the session in `dir`: the handle's updates start with the
/// replay of the session so far. Server notices (control gained or refused)
/// arrive as `Update::Warning`. Dropping the handle detaches.
pub fn attach(dir: &Path) -> Result<Attached> {
    let (mut stream, mut reader, info, control) = connect(dir, Role::Attach)?;
    let (update_tx, updates) = mpsc::channel::<Update>();
    std::thread::Builder::new()
        .name("speedbump-client-read".into())
        .spawn(move || {
            while let Ok(Some(msg)) = read_msg::<ServerMsg>(&mut reader) {
                let update = match msg {
                    ServerMsg::Update { update } => update,
                    ServerMsg::Control { control: true } => {
                        Update::Warning("this terminal has control of the session now".into())
                    }
                    ServerMsg::Control { control: false } => {
                        Update::Warning("this terminal no longer has control".into())
                    }
                    ServerMsg::Refused { reason } => Update::Warning(reason),
                    // Answers to `Hello` and `Status` (read by `connect` and
                    // `query`), and the replay's end: nothing for the front end.
                    ServerMsg::Welcome { .. } | ServerMsg::Replayed | ServerMsg::Status { .. } => {
                        continue;
                    }
                };
                if update_tx.send(update).is_err() {
                    return;
                }
            }
        })?;
    let (commands, command_rx) = mpsc::channel::<Command>();
    std::thread::Builder::new()
        .name("speedbump-client-write".into())
        .spawn(move || {
            for command in command_rx {
                if write_msg(&mut stream, &ClientMsg::Command { command }).is_err() {
                    return;
                }
            }
            // The front end let go of its handle: detach.
            let _ = stream.shutdown(std::net::Shutdown::Both);
        })?;
    Ok(Attached {
        engine: EngineHandle { commands, updates },
        info,
        control,
    })
}

/// Sends `msg` as a query client and returns the first answer that is not
/// an update (None when the server closed the connection first).
pub fn query(dir: &Path, msg: &ClientMsg, timeout: Duration) -> Result<Option<ServerMsg>> {
    let (mut stream, mut reader, _, _) = connect(dir, Role::Query)?;
    stream.set_read_timeout(Some(timeout))?;
    write_msg(&mut stream, msg)?;
    loop {
        match read_msg::<ServerMsg>(&mut reader)? {
            None => return Ok(None),
            Some(ServerMsg::Update { .. }) => {}
            Some(answer) => return Ok(Some(answer)),
        }
    }
}

/// Asks the session in `dir` to stop and waits until its server closes the
/// connection (the workload stopped and the results written), up to
/// `timeout`.
pub fn stop(dir: &Path, timeout: Duration) -> Result<()> {
    let (mut stream, mut reader, _, _) = connect(dir, Role::Query)?;
    stream.set_read_timeout(Some(timeout))?;
    write_msg(&mut stream, &ClientMsg::Stop)?;
    loop {
        match read_msg::<ServerMsg>(&mut reader) {
            Ok(None) => return Ok(()),
            Ok(Some(_)) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                bail!("the session did not stop within {} s", timeout.as_secs())
            }
            Err(_) => return Ok(()),
        }
    }
}
