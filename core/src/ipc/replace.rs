//! Writing a file that replaces another, safely in a shared directory.
//!
//! Reports and results are written beside their destination and renamed
//! over it, so that a reader never sees half a file. The temporary file is
//! created exclusively (`O_EXCL`) with an unpredictable name, so another
//! user's link planted at a guessable name cannot make us write through it;
//! and a destination that is not a regular file (a FIFO, a device, a link)
//! is refused rather than replaced.

use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Why a destination cannot be written, or `None` when it can: its
/// directory must exist, and the destination must be missing or a regular
/// file (not a link, FIFO, device or directory). Nothing is opened.
pub fn check_destination(path: &Path) -> Option<String> {
    let dir = parent_dir(path);
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Some(format!("{} is not a directory", dir.display())),
        Err(e) => return Some(format!("cannot use the directory {}: {e}", dir.display())),
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => None,
        Ok(meta) => {
            let kind = if meta.file_type().is_symlink() {
                "a symbolic link"
            } else if meta.is_dir() {
                "a directory"
            } else {
                "not a regular file (a FIFO, socket or device)"
            };
            Some(format!(
                "{} is {kind}; give the path of a regular file to create or replace",
                path.display()
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => Some(format!("cannot inspect {}: {e}", path.display())),
    }
}

/// Replaces `path` with `bytes` atomically: the bytes go to a new temporary
/// file in the same directory (created exclusively, unpredictable name),
/// which is then renamed over `path`. Refuses a destination that
/// [`check_destination`] refuses. The file gets mode 0644 (0600 when it
/// replaces a file closed to others).
pub fn write_replacing(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if let Some(problem) = check_destination(path) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, problem));
    }
    let existing_mode = std::fs::symlink_metadata(path)
        .ok()
        .map(|meta| meta.permissions().mode());
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |name| name.to_string_lossy().into_owned());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(parent_dir(path))?;
    tmp.write_all(bytes)?;
    let mode = match existing_mode {
        Some(mode) if mode & 0o044 == 0 => 0o600,
        _ => 0o644,
    };
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    // The temporary is removed if the rename fails.
    tmp.persist(path).map(drop).map_err(|e| e.error)
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn private_dir() -> tempfile::TempDir {
        tempfile::Builder::new()
            .prefix("speedbump-replace-")
            .tempdir()
            .unwrap()
    }

    #[test]
    fn replaces_a_regular_file_and_leaves_no_temporary() {
        let dir = private_dir();
        let path = dir.path().join("r.json");
        write_replacing(&path, b"one").unwrap();
        write_replacing(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// The old predictable temporaries (`r.json.tmp`, `<out>.tmp-<pid>`)
    /// planted as links made us overwrite the link's target.
    #[test]
    fn a_planted_link_at_a_guessable_temporary_name_is_not_followed() {
        let dir = private_dir();
        let target = dir.path().join("victim");
        std::fs::write(&target, b"precious").unwrap();
        let path = dir.path().join("r.json");
        for guess in [
            "r.json.tmp".to_owned(),
            format!("r.json.tmp-{}", std::process::id()),
        ] {
            std::os::unix::fs::symlink(&target, dir.path().join(guess)).unwrap();
        }
        write_replacing(&path, b"report").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        assert_eq!(std::fs::read(&path).unwrap(), b"report");
    }

    #[test]
    fn non_regular_destinations_are_refused() {
        let dir = private_dir();
        let target = dir.path().join("victim");
        std::fs::write(&target, b"precious").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        for path in [
            link.as_path(),
            fifo.as_path(),
            dir.path(),
            Path::new("/dev/null"),
        ] {
            let err = write_replacing(path, b"x").unwrap_err();
            assert_eq!(
                err.kind(),
                io::ErrorKind::InvalidInput,
                "{}",
                path.display()
            );
            assert!(check_destination(path).is_some());
        }
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        assert!(check_destination(&dir.path().join("missing/r.json")).is_some());
        assert!(check_destination(&dir.path().join("new.json")).is_none());
    }
}
