//! Starting the workload in its own process group, and signalling that group.
//!
//! The child is forked by `std::process::Command` (which sets up the pipes
//! and the process group) and then, in a `pre_exec` hook, does three things
//! before it runs the program:
//!
//! 1. `PR_SET_PDEATHSIG(SIGKILL)`: if the thread that started it dies, the
//!    kernel kills it (a cheap extra guard beside the watchdog; this is why
//!    the session starts the workload on a thread that lives as long as it);
//! 2. reads its own pid and `CLOCK_MONOTONIC` and writes them into the
//!    prepared `SPEED_BUMP_START_AT=PID:NS` entry of its environment, so the
//!    hook measures timing windows from the exact start of the process;
//! 3. `execve`s the program with the prepared argv and environment.
//!
//! Everything the child touches between fork and exec was allocated before
//! the fork: no allocation, no lock, only system calls.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::raw::c_char;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use rustix::process::{Pid, Signal};

use super::error::EngineError;

/// Name of the variable carrying the exact start of the workload.
pub const START_AT_VARIABLE: &str = "SPEED_BUMP_START_AT";

/// What the workload's stdin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StdinMode {
    /// The launcher's stdin.
    Inherit,
    /// `/dev/null`.
    #[default]
    Null,
}

/// How to start the workload.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// Program and arguments.
    pub command: Vec<OsString>,
    /// The complete environment of the workload (without
    /// `SPEED_BUMP_START_AT`, which the child adds itself).
    pub env: Vec<(OsString, OsString)>,
    /// What its stdin is.
    pub stdin: StdinMode,
    /// Capture stdout and stderr through pipes (else inherit them).
    pub capture_output: bool,
}

/// Starts the workload as the leader of a new process group. Call it from
/// a thread that outlives the workload (see the module docs).
pub fn spawn_workload(spec: &LaunchSpec) -> Result<Child, EngineError> {
    let (first, args) = spec.command.split_first().ok_or(EngineError::NoCommand)?;
    let program_name = first.to_string_lossy().into_owned();
    let search_path = spec
        .env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var_os("PATH"));
    let program = resolve_program(first, search_path.as_deref()).ok_or_else(|| {
        EngineError::CommandNotFound {
            program: program_name.clone(),
        }
    })?;
    let image = ExecImage::new(&program, &spec.command, &spec.env).map_err(|source| {
        EngineError::Spawn {
            program: program_name.clone(),
            source,
        }
    })?;
    let mut command = Command::new(&program);
    command
        .args(args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .process_group(0)
        .stdin(match spec.stdin {
            StdinMode::Inherit => Stdio::inherit(),
            StdinMode::Null => Stdio::null(),
        });
    if spec.capture_output {
        command.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut image = image;
    // SAFETY: the closure runs in the forked child before exec. It only makes
    // system calls (prctl, getppid, getpid, clock_gettime, execve) and
    // writes into buffers allocated before the fork; it never allocates,
    // locks or unwinds.
    unsafe {
        command.pre_exec(move || image.exec());
    }
    command.spawn().map_err(|source| EngineError::Spawn {
        program: program_name,
        source,
    })
}

/// Finds `program` like a shell: a name with a `/` is used as it is, any
/// other is looked up in `path` (the workload's PATH).
pub fn resolve_program(program: &OsStr, path: Option<&OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if program.as_bytes().contains(&b'/') {
        return Some(PathBuf::from(program));
    }
    if program.is_empty() {
        return None;
    }
    let is_executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    std::env::split_paths(path?)
        .map(|dir| {
            if dir.as_os_str().is_empty() {
                PathBuf::from(".").join(program)
            } else {
                dir.join(program)
            }
        })
        .find(|candidate| is_executable(candidate))
}

/// Room for `SPEED_BUMP_START_AT=<pid>:<ns>` and its NUL.
const START_AT_BYTES: usize = 64;

/// Everything `execve` needs, allocated before the fork.
struct ExecImage {
    program: CString,
    _argv: Vec<CString>,
    argv_ptrs: Vec<*const c_char>,
    _env: Vec<CString>,
    start_at: Box<[u8; START_AT_BYTES]>,
    envp_ptrs: Vec<*const c_char>,
    parent_pid: Option<Pid>,
}

// SAFETY: the raw pointers point into the CStrings and the box owned by the
// same value; they are only dereferenced by execve in the forked child.
unsafe impl Send for ExecImage {}
// SAFETY: as above; no shared mutation happens in the parent.
unsafe impl Sync for ExecImage {}

impl ExecImage {
    fn new(program: &Path, command: &[OsString], env: &[(OsString, OsString)]) -> io::Result<Self> {
        let cstring = |bytes: Vec<u8>| {
            CString::new(bytes).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a NUL byte in an argument or variable",
                )
            })
        };
        let program = cstring(program.as_os_str().as_bytes().to_vec())?;
        let argv: Vec<CString> = command
            .iter()
            .map(|a| cstring(a.clone().into_vec()))
            .collect::<io::Result<_>>()?;
        let env: Vec<CString> = env
            .iter()
            .filter(|(k, _)| k != START_AT_VARIABLE)
            .map(|(k, v)| {
                let mut entry = k.clone().into_vec();
                entry.push(b'=');
                entry.extend_from_slice(v.as_bytes());
                cstring(entry)
            })
            .collect::<io::Result<_>>()?;
        let mut start_at = Box::new([0u8; START_AT_BYTES]);
        let mut argv_ptrs: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_ptrs.push(std::ptr::null());
        let mut envp_ptrs: Vec<*const c_char> = env.iter().map(|e| e.as_ptr()).collect();
        envp_ptrs.push(start_at.as_mut_ptr().cast_const().cast());
        envp_ptrs.push(std::ptr::null());
        Ok(Self {
            program,
            _argv: argv,
            argv_ptrs,
            _env: env,
            start_at,
            envp_ptrs,
            parent_pid: Some(rustix::process::getpid()),
        })
    }

    /// In the child: the steps of the module docs. Returns only on failure.
    fn exec(&mut self) -> io::Result<()> {
        rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
        // The launcher may have died before prctl took effect.
        if rustix::process::getppid() != self.parent_pid {
            return Err(rustix::io::Errno::SRCH.into());
        }
        let pid = rustix::process::getpid().as_raw_nonzero().get();
        let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let ns = u64::try_from(now.tv_sec)
            .unwrap_or(0)
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::try_from(now.tv_nsec).unwrap_or(0));
        write_start_at(&mut self.start_at, u64::try_from(pid).unwrap_or(0), ns);
        // `libc`: rustix has `execve` only in its `runtime` module, which is
        // meant for programs without a libc.
        // SAFETY: every pointer is a NUL-terminated string owned by self or
        // null, and both arrays end with null.
        unsafe {
            libc::execve(
                self.program.as_ptr(),
                self.argv_ptrs.as_ptr(),
                self.envp_ptrs.as_ptr(),
            );
        }
        Err(io::Error::last_os_error())
    }
}

/// Writes `SPEED_BUMP_START_AT=<pid>:<ns>\0` into `buf` without allocating.
fn write_start_at(buf: &mut [u8; START_AT_BYTES], pid: u64, ns: u64) {
    let mut at = 0;
    let mut put = |byte: u8| {
        if let Some(slot) = buf.get_mut(at) {
            *slot = byte;
            at += 1;
        }
    };
    for byte in START_AT_VARIABLE.bytes() {
        put(byte);
    }
    put(b'=');
    for number in [Some(pid), None, Some(ns)] {
        let Some(mut n) = number else {
            put(b':');
            continue;
        };
        let mut digits = [0u8; 20];
        let mut len = 0;
        loop {
            if let Some(d) = digits.get_mut(len) {
                *d = b'0' + (n % 10) as u8;
            }
            len += 1;
            n /= 10;
            if n == 0 || len == digits.len() {
                break;
            }
        }
        for i in (0..len).rev() {
            put(digits.get(i).copied().unwrap_or(b'0'));
        }
    }
    put(0);
}

/// Sends `signal` to the process group `pgid`. `false` when no process of
/// the group is left.
pub fn signal_group(pgid: u32, signal: Signal) -> bool {
    let Some(pid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    rustix::process::kill_process_group(pid, signal).is_ok()
}

/// Whether any process of the group `pgid` still runs. Zombies do not
/// count: they have ended and only wait to be reaped (by init, for orphans,
/// which can take a while).
pub fn group_alive(pgid: u32) -> bool {
    let Some(pid) = i32::try_from(pgid).ok().and_then(Pid::from_raw) else {
        return false;
    };
    match rustix::process::test_kill_process_group(pid) {
        Ok(()) => {}
        Err(e) if e == rustix::io::Errno::PERM => {}
        Err(_) => return false,
    }
    // Somebody is in the group: is it more than zombies?
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return true;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((state, group)) = parse_state_and_group(&stat)
            && group == pgid
            && state != 'Z'
            && state != 'X'
        {
            return true;
        }
    }
    false
}

/// State (field 3) and process group (field 5) from `/proc/<pid>/stat`.
fn parse_state_and_group(stat: &str) -> Option<(char, u32)> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let group = fields.next()?.parse().ok()?;
    Some((state, group))
}

/// The conventional exit status for a status: the code, or 128 + signal.
pub fn shell_status(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => 1,
    }
}

/// A signal's name (`SIGSEGV`), or its number.
pub fn signal_name(signal: i32) -> String {
    let name = match Signal::from_named_raw(signal) {
        Some(Signal::HUP) => "SIGHUP",
        Some(Signal::INT) => "SIGINT",
        Some(Signal::QUIT) => "SIGQUIT",
        Some(Signal::ILL) => "SIGILL",
        Some(Signal::ABORT) => "SIGABRT",
        Some(Signal::BUS) => "SIGBUS",
        Some(Signal::FPE) => "SIGFPE",
        Some(Signal::KILL) => "SIGKILL",
        Some(Signal::SEGV) => "SIGSEGV",
        Some(Signal::PIPE) => "SIGPIPE",
        Some(Signal::ALARM) => "SIGALRM",
        Some(Signal::TERM) => "SIGTERM",
        _ => return format!("signal {signal}"),
    };
    name.to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn start_at_is_written_without_allocation() {
        let mut buf = [0u8; START_AT_BYTES];
        write_start_at(&mut buf, 4242, 1_234_567_890_123);
        let end = buf.iter().position(|b| *b == 0).unwrap();
        assert_eq!(&buf[..end], b"SPEED_BUMP_START_AT=4242:1234567890123");
        write_start_at(&mut buf, 0, u64::MAX);
        let end = buf.iter().position(|b| *b == 0).unwrap();
        assert_eq!(&buf[..end], b"SPEED_BUMP_START_AT=0:18446744073709551615");
    }

    #[test]
    fn programs_resolve_like_a_shell() {
        assert_eq!(
            resolve_program(OsStr::new("./x"), None),
            Some(PathBuf::from("./x"))
        );
        let sh = resolve_program(
            OsStr::new("sh"),
            Some(OsStr::new("/nonexistent:/bin:/usr/bin")),
        );
        assert!(sh.is_some_and(|p| p.ends_with("sh")));
        assert_eq!(
            resolve_program(OsStr::new("no-such-program-xyz"), Some(OsStr::new("/bin"))),
            None
        );
    }

    #[test]
    fn the_child_leads_its_group_and_knows_its_start() {
        let spec = LaunchSpec {
            command: vec![
                "sh".into(),
                "-c".into(),
                "echo $$ $(ps -o pgid= -p $$) $SPEED_BUMP_START_AT".into(),
            ],
            env: std::env::vars_os().collect(),
            stdin: StdinMode::Null,
            capture_output: true,
        };
        let child = spawn_workload(&spec).unwrap();
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let words: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(words[0], pid.to_string(), "{text}");
        assert_eq!(words[1], pid.to_string(), "pgid: {text}");
        let (start_pid, ns) = words[2].split_once(':').unwrap();
        assert_eq!(start_pid, pid.to_string());
        assert!(ns.parse::<u64>().unwrap() > 0);
    }

    #[test]
    fn spawn_errors_say_what_is_wrong() {
        let spec = |cmd: &str| LaunchSpec {
            command: vec![cmd.into()],
            env: vec![("PATH".into(), "/bin:/usr/bin".into())],
            stdin: StdinMode::Null,
            capture_output: false,
        };
        let e = spawn_workload(&spec("no-such-program-xyz")).unwrap_err();
        assert!(e.to_string().contains("command not found"), "{e}");
        let e = spawn_workload(&spec("/nonexistent/prog")).unwrap_err();
        assert!(
            e.to_string().contains("cannot start /nonexistent/prog"),
            "{e}"
        );
        let e = spawn_workload(&LaunchSpec {
            command: vec![],
            ..spec("x")
        })
        .unwrap_err();
        assert!(matches!(e, EngineError::NoCommand));
    }

    #[test]
    fn stat_lines_give_state_and_group() {
        let stat = "42 (a) b) Z 1 4242 4242 0 -1";
        assert_eq!(parse_state_and_group(stat), Some(('Z', 4242)));
        assert_eq!(parse_state_and_group("42 (x)"), None);
    }

    #[test]
    fn statuses_follow_the_shell() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(shell_status(std::process::ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(shell_status(std::process::ExitStatus::from_raw(11)), 139);
        assert_eq!(signal_name(11), "SIGSEGV");
        assert_eq!(signal_name(64), "signal 64");
    }
}
