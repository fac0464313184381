//! Helpers shared by the integration tests (each test file that needs them
//! declares `mod common;`).

use std::os::unix::fs::PermissionsExt;

use tempfile::TempDir;

/// A temporary directory only this user may use (mode 0700), as session
/// bases and segment directories must be; removed when dropped.
pub fn private_dir(name: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("speedbump-{name}-"))
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .unwrap()
}
