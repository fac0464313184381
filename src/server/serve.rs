//! The server loop: one tokio task that owns the engine handle, the
//! session's state and the clients, and a task pair per client (a reader
//! of its lines, a writer of the lines sent to it). Unix signals, the
//! engine's updates, the clients' messages and the linger timer meet in one
//! `select!`.
//!
//! Control: the first client to attach may send commands; when it leaves,
//! the longest-attached remaining client gets control (and is told). A
//! command from any other client is refused with words saying why. Every
//! accepted experiment command is sent to the other clients as
//! `Update::Accepted`, so they can follow what runs.

use std::collections::BTreeMap;
use std::os::unix::net::UnixListener as StdListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::mpsc::{self, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

use crate::experiment::{Command, EngineHandle, Update};
use crate::tui::msg::Msg;
use crate::tui::state::State;

use super::replay::Replay;
use super::wire::{
    ClientMsg, INFO_NAME, MAX_CLIENT_LINE, PROTOCOL_VERSION, RESULTS_NAME, Role, SOCKET_NAME,
    ServerMsg, SessionInfo, SessionStatus, to_line,
};

/// A bound, not yet running server.
#[derive(Debug)]
pub struct Server {
    dir: PathBuf,
    listener: StdListener,
    info: SessionInfo,
    linger: Duration,
    state: State,
    signals: bool,
}

impl Server {
    /// Binds the socket in the session directory `dir` (private, ours: see
    /// `crate::ipc::Session`) and writes the session's description. `state`
    /// is the server's own fold of the updates (the session's results);
    /// `linger` how long a session with no client and no experiment keeps
    /// its workload. With `signals`, SIGTERM and SIGINT stop the session
    /// and SIGHUP is ignored (the server process; not in tests).
    pub fn bind(
        dir: &Path,
        info: SessionInfo,
        linger: Duration,
        mut state: State,
        signals: bool,
    ) -> Result<Server> {
        let socket = dir.join(SOCKET_NAME);
        let listener =
            StdListener::bind(&socket).with_context(|| format!("bind {}", socket.display()))?;
        listener.set_nonblocking(true)?;
        let info_path = dir.join(INFO_NAME);
        std::fs::write(&info_path, to_line(&info))
            .with_context(|| format!("write {}", info_path.display()))?;
        // The server follows what clients start; it starts nothing itself.
        state.options.auto_census = false;
        Ok(Server {
            dir: dir.to_path_buf(),
            listener,
            info,
            linger,
            state,
            signals,
        })
    }

    /// Serves `engine` until the engine finishes (`q` in a client,
    /// `speedbump stop`, SIGTERM, or the linger time of an idle detached
    /// session); then, if no client is attached and an experiment finished,
    /// writes the results (results.json, report.md, plots) into the TUI's
    /// export directory, and returns the server's final state. The caller
    /// removes the directory.
    pub fn run(self, engine: EngineHandle) -> Result<State> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("start the server's event loop")?;
        runtime.block_on(self.serve(engine))
    }

    async fn serve(self, engine: EngineHandle) -> Result<State> {
        let listener = tokio::net::UnixListener::from_std(self.listener)?;
        let EngineHandle { commands, updates } = engine;
        // The engine's channel is std mpsc: one thread forwards it.
        let (update_tx, mut update_rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("speedbump-server-updates".into())
            .spawn(move || {
                for update in updates {
                    if update_tx.send(update).is_err() {
                        return;
                    }
                }
            })?;
        let (event_tx, mut event_rx) = mpsc::unbounded_channel();
        let mut hub = Hub {
            dir: self.dir,
            info: self.info,
            state: self.state,
            replay: Replay::default(),
            clients: BTreeMap::new(),
            controller: None,
            next_id: 0,
            commands,
            stopping: false,
            writers: tokio::task::JoinSet::new(),
            idle_since: Some(Instant::now()),
            linger: self.linger,
        };
        let mut signals = Signals::new(self.signals)?;
        loop {
            let deadline = hub.linger_deadline();
            tokio::select! {
                accepted = listener.accept() => {
                    if let Ok((stream, _)) = accepted {
                        hub.accept(stream, &event_tx);
                    }
                }
                Some(event) = event_rx.recv() => hub.on_event(event),
                update = update_rx.recv() => match update {
                    Some(update) => {
                        let finished = matches!(update, Update::Finished { .. });
                        hub.on_update(update);
                        if finished {
                            break;
                        }
                    }
                    None => break,
                },
                () = signals.stop() => hub.stop(),
                () = sleep_until(deadline) => {
                    hub.broadcast_warning("nobody attached and nothing running: stopping");
                    hub.stop();
                }
            }
        }
        hub.finish().await;
        Ok(hub.state)
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// SIGTERM and SIGINT (stop), SIGHUP (ignored: the server outlives the
/// terminal that started it).
struct Signals {
    streams: Option<[tokio::signal::unix::Signal; 3]>,
}

impl Signals {
    fn new(enabled: bool) -> Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let streams = if enabled {
            Some([
                signal(SignalKind::terminate())?,
                signal(SignalKind::interrupt())?,
                signal(SignalKind::hangup())?,
            ])
        } else {
            None
        };
        Ok(Signals { streams })
    }

    /// Resolves on SIGTERM or SIGINT; never without signals.
    async fn stop(&mut self) {
        let Some([term, int, hup]) = &mut self.streams else {
            return std::future::pending().await;
        };
        loop {
            tokio::select! {
                _ = term.recv() => return,
                _ = int.recv() => return,
                _ = hup.recv() => {}
            }
        }
    }
}

/// What a client task reports to the loop.
enum Event {
    Line(u64, String),
    Gone(u64),
}

struct Client {
    role: Option<Role>,
    lines: UnboundedSender<Arc<str>>,
}

struct Hub {
    dir: PathBuf,
    info: SessionInfo,
    state: State,
    replay: Replay,
    clients: BTreeMap<u64, Client>,
    controller: Option<u64>,
    next_id: u64,
    commands: std::sync::mpsc::Sender<Command>,
    stopping: bool,
    writers: tokio::task::JoinSet<()>,
    /// Since when nobody is attached and nothing runs.
    idle_since: Option<Instant>,
    linger: Duration,
}

impl Hub {
    /// When an idle, detached session stops (None while it is not idle).
    fn linger_deadline(&mut self) -> Option<Instant> {
        let idle = !self.stopping && self.attached() == 0 && self.state.running.is_none();
        match (idle, self.idle_since) {
            (true, None) => self.idle_since = Some(Instant::now()),
            (false, Some(_)) => self.idle_since = None,
            _ => {}
        }
        self.idle_since.map(|t| t + self.linger)
    }

    fn attached(&self) -> usize {
        self.clients
            .values()
            .filter(|c| c.role == Some(Role::Attach))
            .count()
    }

    /// A new connection: same user only (SO_PEERCRED).
    fn accept(&mut self, stream: UnixStream, events: &UnboundedSender<Event>) {
        let ours = rustix::process::getuid().as_raw();
        match stream.peer_cred() {
            Ok(cred) if cred.uid() == ours => {}
            // Another user (or a peer the kernel cannot vouch for): close.
            _ => return,
        }
        let id = self.next_id;
        self.next_id += 1;
        let (read, write) = stream.into_split();
        let (lines, line_rx) = mpsc::unbounded_channel();
        self.writers.spawn(write_lines(write, line_rx));
        let events = events.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(read);
            let mut line = String::new();
            loop {
                line.clear();
                let mut limited = (&mut reader).take(MAX_CLIENT_LINE);
                match limited.read_line(&mut line).await {
                    // End, error, or a line too long (or cut by the end).
                    Ok(0) | Err(_) => break,
                    Ok(_) if !line.ends_with('\n') => break,
                    Ok(_) => {
                        if events.send(Event::Line(id, line.clone())).is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = events.send(Event::Gone(id));
        });
        self.clients.insert(id, Client { role: None, lines });
    }

    fn send(&self, id: u64, msg: &ServerMsg) {
        if let Some(client) = self.clients.get(&id) {
            let _ = client.lines.send(to_line(msg).into());
        }
    }

    /// Sends `update` to attached clients (all but `except`).
    fn broadcast(&self, update: &Update, except: Option<u64>) {
        if self.attached() == 0 {
            return;
        }
        let line: Arc<str> = to_line(&ServerMsg::Update {
            update: update.clone(),
        })
        .into();
        for (id, client) in &self.clients {
            if client.role == Some(Role::Attach) && Some(*id) != except {
                let _ = client.lines.send(Arc::clone(&line));
            }
        }
    }

    fn broadcast_warning(&self, text: &str) {
        self.broadcast(&Update::Warning(text.into()), None);
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Gone(id) => self.drop_client(id),
            Event::Line(id, line) => match serde_json::from_str::<ClientMsg>(&line) {
                Ok(msg) => self.on_message(id, msg),
                Err(e) => {
                    self.send(
                        id,
                        &ServerMsg::Refused {
                            reason: format!("not a speedbump session message: {e}"),
                        },
                    );
                    self.drop_client(id);
                }
            },
        }
    }

    fn drop_client(&mut self, id: u64) {
        // Dropping the sender ends the writer task, which closes the socket.
        self.clients.remove(&id);
        if self.controller == Some(id) {
            self.controller = self
                .clients
                .iter()
                .find(|(_, c)| c.role == Some(Role::Attach))
                .map(|(id, _)| *id);
            if let Some(next) = self.controller {
                self.send(next, &ServerMsg::Control { control: true });
            }
        }
    }

    fn on_message(&mut self, id: u64, msg: ClientMsg) {
        let role = self.clients.get(&id).and_then(|c| c.role);
        match (role, msg) {
            (None, ClientMsg::Hello { version, role }) => self.hello(id, version, role),
            (None, _) => {
                self.send(
                    id,
                    &ServerMsg::Refused {
                        reason: "say hello first".into(),
                    },
                );
                self.drop_client(id);
            }
            (Some(_), ClientMsg::Hello { .. }) => {}
            (Some(_), ClientMsg::Status) => {
                let status = self.status();
                self.send(id, &ServerMsg::Status { status });
            }
            (Some(_), ClientMsg::Stop) => self.stop(),
            (Some(_), ClientMsg::Command { command }) => self.command(id, command),
        }
    }

    fn hello(&mut self, id: u64, version: u32, role: Role) {
        if version != PROTOCOL_VERSION {
            self.send(
                id,
                &ServerMsg::Refused {
                    reason: format!(
                        "this session's server speaks protocol {PROTOCOL_VERSION}, the client \
                         {version}: attach with the speedbump binary that started it"
                    ),
                },
            );
            self.drop_client(id);
            return;
        }
        let control = role == Role::Attach && self.controller.is_none();
        if control {
            self.controller = Some(id);
        }
        if let Some(client) = self.clients.get_mut(&id) {
            client.role = Some(role);
        }
        self.send(
            id,
            &ServerMsg::Welcome {
                version: PROTOCOL_VERSION,
                info: self.info.clone(),
                control,
            },
        );
        if role == Role::Attach {
            for update in self.replay.updates() {
                self.send(
                    id,
                    &ServerMsg::Update {
                        update: update.clone(),
                    },
                );
            }
            self.send(id, &ServerMsg::Replayed);
        }
    }

    fn command(&mut self, id: u64, command: Command) {
        if self.controller != Some(id) {
            let reason = if self.controller.is_some() {
                "another terminal has control of this session; this one only watches \
                 (q or d leave it running; `speedbump stop` ends it)"
            } else {
                "only an attached terminal can send commands"
            };
            let update = Update::Refused {
                command,
                reason: reason.into(),
            };
            self.send(id, &ServerMsg::Update { update });
            return;
        }
        if command == Command::Shutdown {
            self.stop();
            return;
        }
        let follow = matches!(
            command,
            Command::Census { .. }
                | Command::Sweep { .. }
                | Command::Rank { .. }
                | Command::Apply(_)
                | Command::SetProgressPoints(_)
                | Command::SetProgressRegex { .. }
        );
        let _ = self.commands.send(command.clone());
        if follow {
            let accepted = Update::Accepted(command);
            self.state.update(Msg::Engine(accepted.clone()));
            self.replay.push(&accepted);
            self.broadcast(&accepted, Some(id));
        }
    }

    /// Stops the workload (the engine then sends `Finished`).
    fn stop(&mut self) {
        if !self.stopping {
            self.stopping = true;
            let _ = self.commands.send(Command::Shutdown);
        }
    }

    fn on_update(&mut self, update: Update) {
        let done = matches!(
            update,
            Update::CensusDone(_) | Update::SweepDone(_) | Update::RankDone(_)
        );
        self.replay.push(&update);
        self.broadcast(&update, None);
        self.state.update(Msg::Engine(update));
        if done {
            let path = self.dir.join(RESULTS_NAME);
            let file = crate::tui::export::results_file(&self.state);
            if let Err(e) = file.save(&path) {
                self.broadcast_warning(&format!("cannot write {}: {e}", path.display()));
            }
        }
    }

    fn status(&self) -> SessionStatus {
        let attached = self.attached();
        let running = self.state.running.as_ref();
        let state = if self.stopping {
            "stopping"
        } else if running.is_some() {
            "running"
        } else if attached == 0 {
            "lingering"
        } else {
            "idle"
        };
        SessionStatus {
            state: state.into(),
            experiment: running.map(|r| {
                format!(
                    "{} {:.0}/{:.0} s, {} pairs",
                    crate::tui::state::kind_name(r.kind),
                    r.spent_s,
                    r.budget_s,
                    r.pairs
                )
            }),
            finished: self.state.results.records.len(),
            clients: attached,
            stops_in_s: self.idle_since.map(|t| {
                (t + self.linger)
                    .saturating_duration_since(Instant::now())
                    .as_secs_f64()
            }),
            workload_exited: self.state.workload.exit.is_some(),
        }
    }

    /// The engine finished: clients told and closed; when nobody was
    /// attached to see the results (linger, `speedbump stop`, SIGTERM),
    /// they are written as `x` would (a user who quits with `q` exports
    /// with `x`, as before).
    async fn finish(&mut self) {
        if self.attached() == 0 && !self.state.results.records.is_empty() {
            match crate::tui::export::write_all(&self.state) {
                Ok(files) => {
                    if let Some(first) = files.first() {
                        self.broadcast_warning(&format!(
                            "results written to {}",
                            first.parent().unwrap_or(first).display()
                        ));
                    }
                }
                Err(e) => self.broadcast_warning(&format!("cannot write the results: {e}")),
            }
        }
        self.clients.clear();
        let writers = &mut self.writers;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while writers.join_next().await.is_some() {}
        })
        .await;
    }
}

async fn write_lines(mut write: OwnedWriteHalf, mut lines: UnboundedReceiver<Arc<str>>) {
    while let Some(line) = lines.recv().await {
        if write.write_all(line.as_bytes()).await.is_err() {
            return;
        }
    }
    let _ = write.shutdown().await;
}
