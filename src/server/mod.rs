//! The session server: `speedbump tui` sessions that outlive the terminal
//! (docs/sessions.md).
//!
//! A server process owns the workload, the experiment engine and the
//! results, and speaks the experiment protocol
//! ([`crate::experiment::protocol`]) to any number of clients over a
//! Unix socket in its private session directory. The TUI is a client,
//! whether it started the server or attached to it later.
//!
//! ```text
//! <base>/s-<server pid>-<ticks>-<random>/   0700 (crate::ipc::Session)
//!   server.sock    the socket (peers: same uid only, SO_PEERCRED)
//!   server.json    SessionInfo: id, command, options, linger
//!   results.json   the experiments so far, rewritten after each one
//! ```
//!
//! | module | concern |
//! |---|---|
//! | [`wire`] | the messages, JSON lines, the protocol version |
//! | [`replay`] | the compacted updates a late client is sent first |
//! | [`serve`] | the tokio loop: clients, control, engine updates, signals, linger |
//! | [`client`] | attach (socket ↔ the protocol's channels), query, stop |
//! | [`registry`] | this user's sessions on disk, ids |
//! | [`process`] | starting a detached server process and waiting for it |

pub mod client;
pub(crate) mod process;
pub mod registry;
mod replay;
mod serve;
pub mod wire;

pub use client::{Attached, attach};
pub use serve::Server;
pub use wire::{PROTOCOL_VERSION, SessionInfo, SessionStatus};
