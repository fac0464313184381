//! Which Pythons the hook serves, and the launchers' check that a workload's
//! interpreter is one of them before it starts.
//!
//! [`MIN_PYTHON`] is the one definition of the supported floor: the injected
//! `sitecustomize.py` (`super::inject`) and [`check_command`] both read it.
//! A workload on an older Python would run without the hook, count nothing
//! and end in "0 hooked processes … too noisy", so `run`, `sweep`, `rank`
//! and `tui` refuse it up front with a message naming its version (exit
//! status 2).
//!
//! The interpreter is found from the command line: its program when that is
//! a Python (`python`, `python3.12`, a path to one), the program after
//! `env`, or the interpreter of a script's `#!` line. Anything else (a shell
//! script, `torchrun`, `uv run`) is not checked here; the hook's own
//! warning then says which process it could not serve.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The oldest Python the hook serves (`sys.monitoring` on 3.12+, a PEP 523
/// frame-evaluation function on 3.10 and 3.11; docs/python-versions.md).
pub const MIN_PYTHON: (u32, u32) = (3, 10);

/// `3.12`.
pub fn min_python_name() -> String {
    format!("{}.{}", MIN_PYTHON.0, MIN_PYTHON.1)
}

/// How long the interpreter may take to print its version.
const VERSION_TIMEOUT: Duration = Duration::from_secs(20);

/// A Python the hook cannot serve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{program} is Python {version}, which speedbump cannot hook: it needs Python {min} or newer; \
     run the workload with a newer Python{hint}",
    min = min_python_name()
)]
pub struct UnsupportedPython {
    /// The interpreter as the command names it.
    pub program: String,
    /// Its version, `3.9.18`.
    pub version: String,
    /// What to change (`$SPEEDBUMP_PYTHON` for a script).
    pub hint: String,
}

/// Whether a program name is a CPython interpreter's: `python`, `python3`,
/// `python3.12`, `python3.13t`, with or without a directory.
pub fn is_python_program(program: &OsStr) -> bool {
    let name = Path::new(program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(rest) = name.strip_prefix("python") else {
        return false;
    };
    let rest = rest.strip_suffix('t').unwrap_or(rest);
    rest.is_empty()
        || rest
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

/// The interpreter that runs `command`, if the command line says.
pub fn interpreter_of(command: &[OsString]) -> Option<OsString> {
    let program = command.first()?;
    if is_python_program(program) {
        return Some(program.clone());
    }
    let name = Path::new(program).file_name()?;
    if name == "env" {
        // `env [-S] [VAR=value ...] python ...`
        return command
            .iter()
            .skip(1)
            .find(|a| !a.to_string_lossy().starts_with('-') && !a.to_string_lossy().contains('='))
            .filter(|a| is_python_program(a))
            .cloned();
    }
    shebang_interpreter(Path::new(program))
}

/// The Python of a script's `#!` line (`#!/usr/bin/env python3`,
/// `#!/opt/py/bin/python3.11`), if it names one.
fn shebang_interpreter(script: &Path) -> Option<OsString> {
    let mut head = [0u8; 256];
    let n = std::fs::File::open(script).ok()?.read(&mut head).ok()?;
    let text = String::from_utf8_lossy(head.get(..n)?);
    let line = text.strip_prefix("#!")?.lines().next()?;
    let words: Vec<OsString> = line.split_whitespace().map(OsString::from).collect();
    interpreter_of(&words)
}

/// `major.minor.micro` of `python`, or `None` when it cannot be run or does
/// not answer (the launcher then reports its own error, if any).
pub fn python_version(python: &OsStr) -> Option<(u32, u32, u32)> {
    let mut child = Command::new(python)
        .args([
            "-c",
            "import sys; sys.stdout.write('%d.%d.%d' % tuple(sys.version_info[:3]))",
        ])
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONSTARTUP")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + VERSION_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut out = String::new();
    child.stdout.take()?.read_to_string(&mut out).ok()?;
    parse_version(&out)
}

fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.trim().split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// Whether `version` is one the hook serves.
pub fn is_supported(version: (u32, u32, u32)) -> bool {
    (version.0, version.1) >= MIN_PYTHON
}

/// Refuses a command whose interpreter is a Python older than
/// [`MIN_PYTHON`]; `hint` is added to the message (what to change).
pub fn check_command(command: &[OsString], hint: &str) -> Result<(), UnsupportedPython> {
    let Some(python) = interpreter_of(command) else {
        return Ok(());
    };
    let Some(version) = python_version(&python) else {
        return Ok(());
    };
    if is_supported(version) {
        return Ok(());
    }
    Err(UnsupportedPython {
        program: python.to_string_lossy().into_owned(),
        version: format!("{}.{}.{}", version.0, version.1, version.2),
        hint: hint.to_owned(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn python_programs_are_recognised() {
        for yes in [
            "python",
            "python3",
            "python3.12",
            "/usr/bin/python3.9",
            "python3.13t",
        ] {
            assert!(is_python_program(OsStr::new(yes)), "{yes}");
        }
        for no in ["pythonista", "python3.", "bash", "ipython", "torchrun", ""] {
            assert!(!is_python_program(OsStr::new(no)), "{no}");
        }
    }

    #[test]
    fn the_interpreter_comes_from_the_command_line() {
        assert_eq!(
            interpreter_of(&os(&["python3.9", "x.py"])),
            Some("python3.9".into())
        );
        assert_eq!(
            interpreter_of(&os(&["/usr/bin/env", "A=1", "python3", "x.py"])),
            Some("python3".into())
        );
        assert_eq!(interpreter_of(&os(&["bash", "run.sh"])), None);
        let dir = std::env::temp_dir().join(format!("speedbump-shebang-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("bench");
        std::fs::write(&script, "#!/usr/bin/env python3.9\nprint(1)\n").unwrap();
        assert_eq!(
            interpreter_of(&[script.clone().into_os_string()]),
            Some("python3.9".into())
        );
        std::fs::write(&script, "#!/bin/sh\necho 1\n").unwrap();
        assert_eq!(interpreter_of(&[script.into_os_string()]), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn versions_below_the_floor_are_refused() {
        assert_eq!(parse_version("3.9.18"), Some((3, 9, 18)));
        assert_eq!(parse_version("3.9"), None);
        assert!(!is_supported((3, MIN_PYTHON.1 - 1, 99)));
        assert!(is_supported((3, MIN_PYTHON.1, 0)));
        assert!(is_supported((3, 13, 0)));
        let e = UnsupportedPython {
            program: "python3.9".into(),
            version: "3.9.18".into(),
            hint: String::new(),
        };
        let text = e.to_string();
        assert!(text.contains("Python 3.9.18"), "{text}");
        assert!(
            text.contains(&format!("Python {} or newer", min_python_name())),
            "{text}"
        );
    }

    #[test]
    fn a_fake_old_python_is_refused_and_a_missing_one_is_left_to_the_launcher() {
        let dir = std::env::temp_dir().join(format!("speedbump-oldpy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let python = dir.join("python3");
        std::fs::write(&python, "#!/bin/sh\nprintf '3.8.1'\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
        let command = vec![python.clone().into_os_string(), "x.py".into()];
        let e = check_command(&command, "").unwrap_err();
        assert_eq!(e.version, "3.8.1");
        assert!(check_command(&os(&["/no/such/python3", "x.py"]), "").is_ok());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
