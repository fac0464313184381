//! The workload's environment.
//!
//! The launcher's own environment, less every `SPEED_BUMP_*` variable (the
//! control block rules), plus `SPEED_BUMP_SESSION`, the injection directory
//! first on `PYTHONPATH`, `PYTHONUNBUFFERED=1` (unless set: a pipe is not a
//! terminal, and output lines should arrive as printed) and, for hooks older
//! than live control, the starting settings as variables.
//! `SPEED_BUMP_START_AT` is added by the child itself (see `launch`).

use std::ffi::OsString;
use std::path::Path;

use super::error::EngineError;
use super::inject::python_path;
use super::session::SessionConfig;

/// The workload's environment: the launcher's, less every `SPEED_BUMP_*`
/// variable, plus the session, the injection path and (fallback) the
/// starting settings as variables.
pub fn workload_env(
    config: &SessionConfig,
    dir: &Path,
    inject: Option<&Path>,
) -> Result<Vec<(OsString, OsString)>, EngineError> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| !k.to_string_lossy().starts_with("SPEED_BUMP_"))
        .collect();
    let mut set = |key: &str, value: OsString| {
        env.retain(|(k, _)| k != key);
        env.push((key.into(), value));
    };
    set("SPEED_BUMP_SESSION", dir.as_os_str().to_owned());
    if let Some(inject) = inject {
        set(
            "PYTHONPATH",
            python_path(inject, std::env::var_os("PYTHONPATH")),
        );
    }
    if std::env::var_os("PYTHONUNBUFFERED").is_none() {
        set("PYTHONUNBUFFERED", "1".into());
    }
    if config.env_fallback {
        let s = &config.settings;
        if s.enabled && s.has_includes() {
            let targets = dir.join("targets.txt");
            write_private(&targets, s.pattern_text().as_bytes())?;
            set("SPEED_BUMP_TARGETS", targets.into_os_string());
        }
        set("SPEED_BUMP_DELAY_NS", s.delay_ns.to_string().into());
        set(
            "SPEED_BUMP_FREQUENCY",
            s.frequency.max(1).to_string().into(),
        );
        set(
            "SPEED_BUMP_RESUME",
            u8::from(s.delay_resumes).to_string().into(),
        );
        set(
            "SPEED_BUMP_C_CALLS",
            u8::from(s.match_c_calls).to_string().into(),
        );
    }
    for (k, v) in &config.extra_env {
        env.retain(|(key, _)| key != k);
        env.push((k.clone(), v.clone()));
    }
    Ok(env)
}

pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), EngineError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| EngineError::io("create", path, e))?;
    file.write_all(bytes)
        .map_err(|e| EngineError::io("write", path, e))
}
