//! Hook injection: the workload's Python need not have speedbump installed.
//!
//! The session gets a directory put first on the workload's `PYTHONPATH`:
//!
//! ```text
//! <session>/inject/                 0700
//!   sitecustomize.py                0600: loads the hook, then chains
//!   __pycache__/                    0700 (made here so Python keeps it private)
//!   hooks/<major.minor>/speedbump -> <site-packages>/speedbump   (a symlink)
//!   hooks/any/speedbump           -> an abi3 build, if there is one
//! ```
//!
//! `sitecustomize.py` runs at interpreter start-up (after `.pth` files). If
//! an installed `speedbump.pth` already loaded the hook, it does nothing;
//! else it imports `speedbump._boot` from the build matching the running
//! Python. A Python older than 3.10 gets one warning line and runs without
//! the hook; a newer Python without a matching build gets a `speedbump:`
//! error and exit status 2 (as the hook does for a build it cannot load).
//! Then it imports any other `sitecustomize` further on `sys.path` (its own
//! directory taken off `sys.path` and itself out of `sys.modules` meanwhile),
//! so a site's or venv's own `sitecustomize` still runs.
//!
//! Builds are found in `$SPEEDBUMP_HOOK_DIR` (colon-separated package
//! directories, or directories holding a `speedbump` package) or next to
//! the running binary: `<prefix>/bin/speedbump` →
//! `<prefix>/lib/python3.*/site-packages/speedbump`. The Python version of a
//! build is read from its extension's file name
//! (`_speedbump.cpython-312-x86_64-linux-gnu.so`).
//!
//! Not covered: `python -I`, `-E` (ignore `PYTHONPATH`) and `-S` (no
//! `sitecustomize`) run without the hook unless speedbump is installed.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::error::EngineError;

/// Variable naming hook builds explicitly.
pub const HOOK_DIR_VARIABLE: &str = "SPEEDBUMP_HOOK_DIR";

/// One installed build of the hook package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookBuild {
    /// `(3, 12)`; `None` for an abi3 build that loads into any version.
    pub version: Option<(u32, u32)>,
    /// The `speedbump` package directory.
    pub package_dir: PathBuf,
}

impl HookBuild {
    /// `3.12`, or `any`.
    pub fn version_name(&self) -> String {
        match self.version {
            Some((major, minor)) => format!("{major}.{minor}"),
            None => "any".to_owned(),
        }
    }
}

/// Finds the hook builds: `$SPEEDBUMP_HOOK_DIR` if set, else next to
/// `exe` (the running binary). One build per Python version, first found wins.
pub fn find_hook_builds(hook_dir_var: Option<OsString>, exe: Option<&Path>) -> Vec<HookBuild> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(var) = hook_dir_var.filter(|v| !v.is_empty()) {
        for dir in std::env::split_paths(&var) {
            if dir.join("_boot.py").is_file() {
                candidates.push(dir);
            } else {
                candidates.push(dir.join("speedbump"));
            }
        }
    } else if let Some(prefix) = exe.and_then(Path::parent).and_then(Path::parent) {
        for lib in ["lib", "lib64"] {
            let Ok(entries) = std::fs::read_dir(prefix.join(lib)) else {
                continue;
            };
            let mut dirs: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
                .map(|e| e.path().join("site-packages").join("speedbump"))
                .collect();
            dirs.sort();
            candidates.extend(dirs);
        }
    }
    let mut builds: BTreeMap<Option<(u32, u32)>, HookBuild> = BTreeMap::new();
    for dir in candidates {
        let Ok(dir) = dir.canonicalize() else {
            continue;
        };
        for version in extension_versions(&dir) {
            builds.entry(version).or_insert_with(|| HookBuild {
                version,
                package_dir: dir.clone(),
            });
        }
    }
    builds.into_values().collect()
}

/// Python versions of the `_speedbump` extensions in a package directory.
fn extension_versions(package_dir: &Path) -> Vec<Option<(u32, u32)>> {
    if !package_dir.join("_boot.py").is_file() {
        return Vec::new();
    }
    let Ok(entries) = std::fs::read_dir(package_dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| parse_extension_name(&e.file_name().to_string_lossy()))
        .collect()
}

/// `_speedbump.cpython-312-x86_64-linux-gnu.so` → `Some(Some((3, 12)))`,
/// `_speedbump.abi3.so` → `Some(None)`, anything else → `None`.
pub fn parse_extension_name(name: &str) -> Option<Option<(u32, u32)>> {
    let rest = name.strip_prefix("_speedbump.")?;
    if !rest.ends_with(".so") {
        return None;
    }
    if rest.starts_with("abi3") {
        return Some(None);
    }
    let tag = rest.strip_prefix("cpython-")?.split(['-', '.']).next()?;
    let digits = tag.strip_prefix('3')?;
    let minor: u32 = digits
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    Some(Some((3, minor)))
}

/// The injection directory inside a session, ready to go first on
/// `PYTHONPATH`.
pub fn write_injection(session_dir: &Path, builds: &[HookBuild]) -> Result<PathBuf, EngineError> {
    let inject = session_dir.join("inject");
    let io = |action: &'static str, path: &Path, e: std::io::Error| EngineError::Io {
        action,
        path: path.to_path_buf(),
        source: e,
    };
    let private_dir = |path: &Path| {
        DirBuilder::new()
            .mode(0o700)
            .create(path)
            .map_err(|e| io("create", path, e))
    };
    private_dir(&inject)?;
    private_dir(&inject.join("__pycache__"))?;
    let hooks = inject.join("hooks");
    private_dir(&hooks)?;
    for build in builds {
        let dir = hooks.join(build.version_name());
        private_dir(&dir)?;
        let link = dir.join("speedbump");
        std::os::unix::fs::symlink(&build.package_dir, &link).map_err(|e| io("link", &link, e))?;
    }
    let path = inject.join("sitecustomize.py");
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| io("create", &path, e))?;
    file.write_all(SITECUSTOMIZE.as_bytes())
        .map_err(|e| io("write", &path, e))?;
    Ok(inject)
}

/// `PYTHONPATH` for the workload: the injection directory, then the
/// user's own entries.
pub fn python_path(inject: &Path, user: Option<OsString>) -> OsString {
    let mut value = inject.as_os_str().to_owned();
    if let Some(user) = user.filter(|u| !u.is_empty()) {
        value.push(":");
        value.push(user);
    }
    value
}

/// The injected `sitecustomize.py`.
pub const SITECUSTOMIZE: &str = r#"# Written by `speedbump run` (removed with its session): loads the speedbump
# hook into this Python, then runs any other sitecustomize on sys.path.
import os as _sb_os
import sys as _sb_sys


def _sb_activate(here):
    if "speedbump._boot" in _sb_sys.modules:  # an installed speedbump.pth did it
        return
    version = "%d.%d" % _sb_sys.version_info[:2]
    if _sb_sys.version_info < (3, 10):
        _sb_sys.stderr.write(
            "speedbump: warning: Python %s cannot be hooked (speedbump needs 3.10 "
            "or newer); this process runs without the hook\n" % version
        )
        return
    hooks = _sb_os.path.join(here, "hooks")
    chosen = None
    for name in (version, "any"):
        candidate = _sb_os.path.join(hooks, name)
        if _sb_os.path.isdir(_sb_os.path.join(candidate, "speedbump")):
            chosen = candidate
            break
    if chosen is None:
        try:  # speedbump installed without its .pth running (python -S ...)
            import speedbump._boot  # noqa: F401
            return
        except ImportError:
            pass
        builds = sorted(_sb_os.listdir(hooks)) if _sb_os.path.isdir(hooks) else []
        _sb_sys.stderr.write(
            "speedbump: no hook build for Python %s (builds found: %s); install speedbump "
            "into this Python (scripts/setup.sh --into %s)\n"
            % (version, ", ".join(builds) or "none", _sb_sys.executable)
        )
        _sb_sys.stderr.flush()
        _sb_os._exit(2)
    _sb_sys.path.insert(0, chosen)
    try:
        import speedbump._boot  # noqa: F401  (activates the hook)
    finally:
        try:
            _sb_sys.path.remove(chosen)
        except ValueError:
            pass


def _sb_chain(here):
    def ours(entry):
        return _sb_os.path.abspath(entry or _sb_os.curdir) == here

    positions = [i for i, entry in enumerate(_sb_sys.path) if ours(entry)]
    mine = _sb_sys.modules.pop("sitecustomize", None)
    _sb_sys.path[:] = [entry for entry in _sb_sys.path if not ours(entry)]
    try:
        import sitecustomize  # noqa: F401
    except ImportError as error:
        if error.name != "sitecustomize":
            raise
        if mine is not None:
            _sb_sys.modules["sitecustomize"] = mine
    finally:
        for i in positions:
            _sb_sys.path.insert(min(i, len(_sb_sys.path)), here)


_sb_here = _sb_os.path.dirname(_sb_os.path.abspath(__file__))
_sb_activate(_sb_here)
_sb_chain(_sb_here)
"#;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn extension_names_give_versions() {
        assert_eq!(
            parse_extension_name("_speedbump.cpython-312-x86_64-linux-gnu.so"),
            Some(Some((3, 12)))
        );
        assert_eq!(
            parse_extension_name("_speedbump.cpython-313t-x86_64-linux-gnu.so"),
            Some(Some((3, 13)))
        );
        assert_eq!(parse_extension_name("_speedbump.abi3.so"), Some(None));
        assert_eq!(parse_extension_name("_boot.py"), None);
        assert_eq!(parse_extension_name("_speedbump.cpython-312.pyd"), None);
    }

    #[test]
    fn python_path_keeps_the_users_entries_after_ours() {
        let inject = Path::new("/s/inject");
        assert_eq!(python_path(inject, None), "/s/inject");
        assert_eq!(python_path(inject, Some("".into())), "/s/inject");
        assert_eq!(python_path(inject, Some("/a:/b".into())), "/s/inject:/a:/b");
    }

    #[test]
    fn builds_are_found_by_version() {
        let root = std::env::temp_dir().join(format!("speedbump-inject-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let pkg = |v: &str, so: &str| {
            let dir = root.join(format!("lib/python{v}/site-packages/speedbump"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("_boot.py"), "").unwrap();
            std::fs::write(dir.join(so), "").unwrap();
            dir
        };
        let p12 = pkg("3.12", "_speedbump.cpython-312-x86_64-linux-gnu.so");
        let p13 = pkg("3.13", "_speedbump.cpython-313-x86_64-linux-gnu.so");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        let exe = root.join("bin/speedbump");
        let builds = find_hook_builds(None, Some(&exe));
        assert_eq!(builds.len(), 2, "{builds:?}");
        assert_eq!(builds[0].version, Some((3, 12)));
        assert_eq!(builds[0].package_dir, p12.canonicalize().unwrap());
        assert_eq!(builds[1].version_name(), "3.13");
        // The variable wins, and may name the package or its parent.
        let var: OsString = format!("{}:{}", p13.display(), p12.parent().unwrap().display()).into();
        let builds = find_hook_builds(Some(var), Some(Path::new("/nowhere/bin/speedbump")));
        assert_eq!(builds.len(), 2);
        let session = root.join("session");
        std::fs::create_dir(&session).unwrap();
        let inject = write_injection(&session, &builds).unwrap();
        assert!(inject.join("sitecustomize.py").is_file());
        assert!(inject.join("hooks/3.13/speedbump/_boot.py").is_file());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
