//! An interpreter the hook cannot serve is refused before anything starts,
//! by `run`, `sweep`, `rank` and `tui` alike: exit status 2 and a message
//! naming its version and the oldest supported one (never "0 hooked
//! processes … too noisy"). Uses a stand-in `python3` that reports an old
//! version, and a real old CPython from pyenv when there is one.

use std::path::{Path, PathBuf};
use std::process::Command;

use speedbump::live::interpreter::{MIN_PYTHON, min_python_name};

mod common;

/// A `python3` that answers the version query with `version` (and would
/// fail loudly if it were ever asked to run a workload).
fn fake_python(dir: &Path, version: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let python = dir.join("python3");
    std::fs::write(
        &python,
        format!(
            "#!/bin/sh\nif [ \"$1\" = -c ]; then printf '{version}'; exit 0; fi\n\
             echo 'the workload ran' >&2; exit 9\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
    python
}

/// Each front end, on `python` running `script`.
fn every_command(python: &Path, script: &Path) -> Vec<(&'static str, Command)> {
    let exe = env!("CARGO_BIN_EXE_speedbump");
    let mut out = Vec::new();
    for name in ["run", "sweep", "rank"] {
        let mut command = Command::new(exe);
        command.args([name, "--pattern", "*:*"]);
        if name == "sweep" || name == "rank" {
            command
                .arg("--out")
                .arg(script.with_file_name("results.json"));
        }
        command.arg("--").arg(python).arg(script);
        out.push((name, command));
    }
    let mut tui = Command::new(exe);
    tui.arg("tui").arg(script).env("SPEEDBUMP_PYTHON", python);
    out.push(("tui", tui));
    out
}

fn assert_refused(python: &Path, script: &Path, version: &str) {
    for (name, mut command) in every_command(python, script) {
        let out = command.env("NO_COLOR", "1").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("Python {version}")),
            "{name} names the version: {stderr}"
        );
        assert!(
            stderr.contains(&format!("Python {} or newer", min_python_name())),
            "{name} names the floor: {stderr}"
        );
        assert!(!stderr.contains("the workload ran"), "{name}: {stderr}");
        assert!(!stderr.contains("too noisy"), "{name}: {stderr}");
        assert!(!script.with_file_name("results.json").exists(), "{name}");
    }
}

#[test]
fn an_old_python_is_refused_by_every_command() {
    let dir = common::private_dir("old-python");
    let script = dir.path().join("bench.py");
    std::fs::write(&script, "print('hello')\n").unwrap();
    let old = format!("{}.{}.7", MIN_PYTHON.0, MIN_PYTHON.1 - 1);
    let python = fake_python(dir.path(), &old);
    assert_refused(&python, &script, &old);
}

#[test]
fn a_real_old_cpython_is_refused_when_pyenv_has_one() {
    let Some(home) = std::env::var_os("HOME") else {
        return;
    };
    let versions = Path::new(&home).join(".pyenv/versions");
    let Ok(entries) = std::fs::read_dir(&versions) else {
        return;
    };
    let old = entries.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let mut parts = name.split('.').map(|p| p.parse::<u32>().ok());
        let (major, minor) = (parts.next()??, parts.next()??);
        let python = e.path().join(format!("bin/python{major}.{minor}"));
        (major == 3 && minor < MIN_PYTHON.1 && python.is_file()).then_some((name, python))
    });
    let Some((version, python)) = old else {
        return;
    };
    let dir = common::private_dir("real-old-python");
    let script = dir.path().join("bench.py");
    std::fs::write(&script, "print('hello')\n").unwrap();
    assert_refused(&python, &script, &version);
}
