//! The session server's wire protocol: JSON lines over a Unix stream
//! socket. A client says [`ClientMsg::Hello`] first; the server answers
//! [`ServerMsg::Welcome`] (or [`ServerMsg::Refused`] and closes when the
//! versions differ), replays the session so far as `Update` lines, says
//! [`ServerMsg::Replayed`], then streams updates as the engine sends them.
//! The payloads are the experiment protocol's own types
//! ([`crate::experiment::protocol`]): the server adds no meaning.
//!
//! Fields are only ever added; anything else bumps [`PROTOCOL_VERSION`].

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use crate::experiment::{Command, Update};

/// Version of this protocol; a client and a server of different versions
/// refuse each other with a message that says which to use.
pub const PROTOCOL_VERSION: u32 = 1;

/// The socket's file name in the session directory.
pub const SOCKET_NAME: &str = "server.sock";
/// The session's description (a [`SessionInfo`] as JSON), written once.
pub const INFO_NAME: &str = "server.json";
/// The session's experiments so far (docs/results-schema.md), rewritten
/// after each experiment.
pub const RESULTS_NAME: &str = "results.json";

/// Longest line the server accepts from a client (commands are small; a
/// rank command with many candidates is a few kB). Longer: disconnected.
pub const MAX_CLIENT_LINE: u64 = 1 << 20;

/// What a session is, as listed and as sent to attaching clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Short id (`speedbump tui --attach ID`, `speedbump stop ID`).
    pub id: String,
    /// The server's process id.
    pub pid: u32,
    /// The workload's command line.
    pub command: Vec<String>,
    /// When the server started, seconds since the Unix epoch.
    pub started_unix_s: f64,
    /// How long a detached, idle session keeps its workload, seconds.
    pub linger_s: f64,
    /// The TUI's options (a `tui::Options` as JSON), for attaching clients.
    pub options: serde_json::Value,
}

/// How a session is doing (`speedbump sessions`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStatus {
    /// `running` (an experiment runs), `idle`, `lingering` (idle and no
    /// client: it stops when the linger time ends), `stopping`.
    pub state: String,
    /// The running experiment and its progress, in words.
    pub experiment: Option<String>,
    /// Experiments finished.
    pub finished: usize,
    /// Attached clients.
    pub clients: usize,
    /// Seconds until a lingering session stops.
    pub stops_in_s: Option<f64>,
    /// Whether the workload has exited (the session stays for its results).
    pub workload_exited: bool,
}

/// Why a client connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A front end: receives the replay and every update, may send commands.
    Attach,
    /// A one-shot query (`sessions`, `stop`): not counted as a client.
    Query,
}

/// A line from a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMsg {
    /// First line: the client's protocol version and role.
    Hello {
        /// [`PROTOCOL_VERSION`] of the client.
        version: u32,
        /// Attach or query.
        role: Role,
    },
    /// An engine command (only from the client that has control).
    Command {
        /// The command.
        command: Command,
    },
    /// Ask for a [`ServerMsg::Status`].
    Status,
    /// Stop the workload and the session (any client; `speedbump stop`).
    Stop,
}

/// A line from the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// Answer to `Hello`.
    Welcome {
        /// [`PROTOCOL_VERSION`] of the server.
        version: u32,
        /// The session.
        info: SessionInfo,
        /// Whether this client may send commands.
        control: bool,
    },
    /// An engine update (replayed, then live). `Update::Accepted` tells
    /// the other clients what the controlling one started.
    Update {
        /// The update.
        update: Update,
    },
    /// The replay of the session so far is complete.
    Replayed,
    /// This client gained or lost control.
    Control {
        /// Whether it may send commands now.
        control: bool,
    },
    /// A request was refused, and why.
    Refused {
        /// Words for the user.
        reason: String,
    },
    /// Answer to `Status`.
    Status {
        /// The session's state.
        status: SessionStatus,
    },
}

/// One value as one line of JSON (with its newline).
pub fn to_line<T: Serialize>(value: &T) -> String {
    // Serialising these types cannot fail: no maps with non-string keys,
    // and non-finite floats become null.
    let mut line = serde_json::to_string(value).unwrap_or_else(|_| "{}".into());
    line.push('\n');
    line
}

/// Writes one message as a line.
pub fn write_msg<T: Serialize>(out: &mut impl Write, value: &T) -> std::io::Result<()> {
    out.write_all(to_line(value).as_bytes())?;
    out.flush()
}

/// Reads one line and parses it; `Ok(None)` at end of stream.
pub fn read_msg<T: for<'de> Deserialize<'de>>(
    input: &mut impl BufRead,
) -> std::io::Result<Option<T>> {
    let mut line = String::new();
    if input.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    serde_json::from_str(&line)
        .map(Some)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_survive_a_round_trip() {
        let msg = ClientMsg::Command {
            command: Command::Sweep {
                patterns: vec!["*:*".into()],
                delays_ns: vec![1_000, 10_000],
                frequency: 1,
                budget_s: 30.0,
            },
        };
        let line = to_line(&msg);
        assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
        let back: ClientMsg = read_msg(&mut line.as_bytes()).unwrap().unwrap();
        assert_eq!(back, msg);
        let update = ServerMsg::Update {
            update: Update::Progress {
                kind: crate::experiment::ExperimentKind::Rank,
                spent_s: 1.5,
                budget_s: 60.0,
                pairs: 3,
            },
        };
        let back: ServerMsg = read_msg(&mut to_line(&update).as_bytes()).unwrap().unwrap();
        assert!(matches!(
            back,
            ServerMsg::Update {
                update: Update::Progress { pairs: 3, .. }
            }
        ));
        assert!(read_msg::<ServerMsg>(&mut &b""[..]).unwrap().is_none());
        assert!(read_msg::<ServerMsg>(&mut &b"{\"type\":\"nope\"}\n"[..]).is_err());
    }
}
