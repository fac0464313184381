//! This user's sessions: the session directories under the base directory
//! (see `crate::ipc::session`) that hold a server's socket and description.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::ipc::procfs::current_uid;
use crate::ipc::session::default_base_dir;

use super::wire::{INFO_NAME, SOCKET_NAME, SessionInfo};

/// A session found on disk.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Its directory.
    pub dir: PathBuf,
    /// What its server wrote about it.
    pub info: SessionInfo,
}

/// The short id of the session directory `dir` (`s-<pid>-<ticks>-<hex>`):
/// the first 8 hex digits of its random part.
pub fn session_id(dir: &Path) -> Option<String> {
    let name = dir.file_name()?.to_str()?;
    let random = name.strip_prefix("s-")?.rsplit('-').next()?;
    (random.len() >= 8).then(|| random[..8].to_owned())
}

/// Every session of this user with a server, oldest first. Directories
/// that are not ours, not private, or not a server's are skipped; those of
/// servers that died (killed, out of memory) are removed first, as every
/// stale session is.
pub fn list() -> Result<Vec<Listed>> {
    let base = default_base_dir()?;
    // Best effort: a base that cannot be cleaned is still listed.
    let _ = crate::ipc::session::clean_stale_sessions(&base);
    list_in(&base)
}

/// [`list`] under `base`.
pub fn list_in(base: &Path) -> Result<Vec<Listed>> {
    let entries = match std::fs::read_dir(base) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => bail!("cannot list {}: {e}", base.display()),
    };
    let uid = current_uid();
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let dir = entry.path();
        let private_dir = std::fs::symlink_metadata(&dir)
            .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0);
        if !private_dir || session_id(&dir).is_none() || !dir.join(SOCKET_NAME).exists() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(dir.join(INFO_NAME)) else {
            continue;
        };
        if let Ok(info) = serde_json::from_str::<SessionInfo>(&text) {
            found.push(Listed { dir, info });
        }
    }
    found.sort_by(|a, b| a.info.started_unix_s.total_cmp(&b.info.started_unix_s));
    Ok(found)
}

/// The session `id` (a prefix of an id will do), or the only one.
pub fn find(sessions: &[Listed], id: Option<&str>) -> Result<Listed> {
    let ids = || {
        sessions
            .iter()
            .map(|s| s.info.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let matching: Vec<&Listed> = match id {
        Some(id) => sessions
            .iter()
            .filter(|s| s.info.id.starts_with(id))
            .collect(),
        None => sessions.iter().collect(),
    };
    match (matching.as_slice(), id) {
        ([one], _) => Ok((*one).clone()),
        ([], None) => bail!("no session is running (speedbump tui starts one)"),
        ([], Some(id)) if sessions.is_empty() => {
            bail!("no session '{id}': none is running")
        }
        ([], Some(id)) => bail!("no session '{id}'; running: {}", ids()),
        (_, None) => bail!(
            "{} sessions are running ({}): say which (speedbump sessions lists them)",
            sessions.len(),
            ids()
        ),
        (_, Some(id)) => bail!(
            "'{id}' matches several sessions ({}): give more of it",
            ids()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(id: &str) -> Listed {
        Listed {
            dir: PathBuf::from(format!("/x/s-1-2-{id}00000000")),
            info: SessionInfo {
                id: id.into(),
                pid: 1,
                command: vec!["python".into()],
                started_unix_s: 0.0,
                linger_s: 600.0,
                options: serde_json::Value::Null,
            },
        }
    }

    #[test]
    fn ids_and_finding() {
        assert_eq!(
            session_id(Path::new("/run/speedbump/s-12-345-0123456789abcdef")).as_deref(),
            Some("01234567")
        );
        assert_eq!(session_id(Path::new("/run/speedbump/other")), None);
        let sessions = [listed("aaaa1111"), listed("aaab2222")];
        assert_eq!(find(&sessions, Some("aaab")).unwrap().info.id, "aaab2222");
        let e = find(&sessions, Some("aaa")).unwrap_err().to_string();
        assert!(e.contains("several"), "{e}");
        let e = find(&sessions, None).unwrap_err().to_string();
        assert!(e.contains("say which"), "{e}");
        assert!(
            find(&sessions, Some("zz"))
                .unwrap_err()
                .to_string()
                .contains("running: aaaa1111")
        );
        assert_eq!(find(&sessions[..1], None).unwrap().info.id, "aaaa1111");
        assert!(
            find(&[], None)
                .unwrap_err()
                .to_string()
                .contains("no session")
        );
    }
}
