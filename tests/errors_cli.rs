//! Errors as a user sees them: one `speedbump: error:` line that names the
//! cause once (not `...: Permission denied: Permission denied`).

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

/// Runs speedbump with `args`; returns (exit code, stderr).
fn speedbump(args: &[&str], dir: &std::path::Path) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_speedbump"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("SPEEDBUMP_RUNTIME_DIR", dir)
        .env("XDG_RUNTIME_DIR", dir)
        .output()
        .expect("run speedbump");
    (
        output.status.code().expect("exit status"),
        String::from_utf8(output.stderr).expect("utf-8 stderr"),
    )
}

#[test]
fn not_executable_names_the_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("not-executable");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, stderr) = speedbump(
        &["run", "--delay", "0", "--", "./not-executable"],
        dir.path(),
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot start ./not-executable"), "{stderr}");
    assert_eq!(stderr.matches("Permission denied").count(), 1, "{stderr}");
}

#[test]
fn missing_results_file_names_the_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = speedbump(&["report", "missing.json"], dir.path());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("missing.json"), "{stderr}");
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");
}

#[test]
fn inspect_of_a_directory_that_is_not_a_session_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = speedbump(&["inspect", "/etc"], dir.path());
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("/etc is not a session directory"),
        "{stderr}"
    );
}
