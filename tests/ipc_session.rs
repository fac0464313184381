//! Session directories: private modes, segment listing, removal and the
//! cleanup of sessions left behind by killed runs.

mod common;
use common::private_dir;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use speedbump::ipc::procfs::{current_uid, process_start_ticks};
use speedbump::ipc::session::default_base_dir;
use speedbump::ipc::{
    Capacities, IpcError, ProcessInfo, SegmentWriter, Session, clean_stale_sessions,
    ensure_session_dir, list_segments, segment_path,
};

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

fn my_start_ticks() -> u64 {
    process_start_ticks(std::process::id()).unwrap()
}

/// The pid of a child process that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn session_and_segment_files_are_private() {
    let tmp = private_dir("ipc-session");
    let base = tmp.path().join("base");
    let session = Session::create(Some(&base)).unwrap();
    assert_eq!(mode(&base), 0o700);
    assert_eq!(mode(session.path()), 0o700);
    assert_eq!(session.path().parent(), Some(base.as_path()));
    let name = session
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let prefix = format!("s-{}-{}-", std::process::id(), my_start_ticks());
    assert!(name.starts_with(&prefix), "{name}");
    assert_eq!(
        name.len(),
        prefix.len() + 16,
        "16 hex digits of random suffix: {name}"
    );

    let seg = segment_path(session.path(), 77, 88);
    assert_eq!(seg, session.path().join("p-77-88.seg"));
    let info = ProcessInfo::current("t").unwrap();
    let caps = Capacities {
        functions: 2,
        patterns: 2,
        progress: 2,
        name_arena_bytes: 16,
    };
    SegmentWriter::create(&seg, &info, caps).unwrap();
    assert_eq!(mode(&seg), 0o600);
    assert_eq!(std::fs::metadata(&seg).unwrap().uid(), current_uid());

    let other = Session::create(Some(&base)).unwrap();
    assert_ne!(
        other.path(),
        session.path(),
        "every run gets its own directory"
    );
}

#[test]
fn list_segments_returns_only_seg_files_sorted() {
    let tmp = private_dir("ipc-session");
    for name in [
        "p-3-4.seg",
        "control",
        "p-1-2.seg",
        "notes.txt",
        "p-10-1.seg",
    ] {
        std::fs::write(tmp.path().join(name), b"").unwrap();
    }
    let names: Vec<_> = list_segments(tmp.path())
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["p-1-2.seg", "p-10-1.seg", "p-3-4.seg"]);
    let err = list_segments(&tmp.path().join("missing")).unwrap_err();
    assert!(err.is_transient(), "{err}");
}

#[test]
fn remove_deletes_everything_and_drop_deletes_nothing() {
    let tmp = private_dir("ipc-session");
    let dir = {
        let session = Session::create(Some(tmp.path())).unwrap();
        std::fs::write(session.path().join("p-1-1.seg"), b"x").unwrap();
        session.path().to_path_buf()
    };
    assert!(
        dir.join("p-1-1.seg").exists(),
        "drop must not remove the session"
    );

    let session = Session::create(Some(tmp.path())).unwrap();
    let path = session.path().to_path_buf();
    std::fs::write(path.join("p-1-1.seg"), b"x").unwrap();
    std::fs::write(path.join("control"), b"x").unwrap();
    session.remove().unwrap();
    assert!(!path.exists());
}

#[test]
fn an_insecure_or_foreign_base_is_refused() {
    let tmp = private_dir("ipc-session");
    let base = tmp.path().join("base");
    std::fs::create_dir(&base).unwrap();
    std::fs::set_permissions(&base, PermissionsExt::from_mode(0o755)).unwrap();
    let err = Session::create(Some(&base)).unwrap_err();
    assert!(
        matches!(err, IpcError::InsecurePermissions { mode: 0o755, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("chmod go-rwx"), "{err}");

    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&base, &link).unwrap();
    let err = Session::create(Some(&link)).unwrap_err();
    assert!(matches!(err, IpcError::NotADirectory { .. }), "{err}");
}

#[test]
fn ensure_session_dir_creates_or_verifies() {
    let tmp = private_dir("ipc-session");
    let dir = tmp.path().join("base/s-1-2-abc");
    ensure_session_dir(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&tmp.path().join("base")), 0o700);
    ensure_session_dir(&dir).unwrap(); // already there: fine

    std::fs::set_permissions(&dir, PermissionsExt::from_mode(0o750)).unwrap();
    let err = ensure_session_dir(&dir).unwrap_err();
    assert!(
        matches!(err, IpcError::InsecurePermissions { mode: 0o750, .. }),
        "{err}"
    );

    let file = tmp.path().join("file");
    std::fs::write(&file, b"").unwrap();
    assert!(ensure_session_dir(&file).is_err());
}

#[test]
fn stale_sessions_are_cleaned_and_live_ones_kept() {
    let tmp = private_dir("ipc-session");
    let me = std::process::id();
    let ticks = my_start_ticks();
    let dead = dead_pid();
    let make = |name: &str, files: &[&str]| {
        let dir = tmp.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        for file in files {
            std::fs::write(dir.join(file), b"x").unwrap();
        }
        dir
    };
    let dead_owner = make(&format!("s-{dead}-{ticks}-aa"), &["p-1-1.seg", "control"]);
    let reused_pid = make(&format!("s-{me}-{}-bb", ticks + 1), &[]);
    let live = make(&format!("s-{me}-{ticks}-cc"), &["p-1-1.seg"]);
    let live_writer = make(
        &format!("s-{dead}-{ticks}-dd"),
        &[&format!("p-{me}-{ticks}.seg")],
    );
    let not_a_session = make("other", &[]);
    let malformed = make("s-garbage", &[]);

    let mut removed = clean_stale_sessions(tmp.path()).unwrap();
    removed.sort();
    let mut expected = vec![dead_owner.clone(), reused_pid.clone()];
    expected.sort();
    assert_eq!(removed, expected);
    assert!(!dead_owner.exists() && !reused_pid.exists());
    assert!(live.exists(), "owner alive with the same start time");
    assert!(
        live_writer.exists(),
        "a writer in the session is still alive"
    );
    assert!(not_a_session.exists() && malformed.exists());

    assert_eq!(
        clean_stale_sessions(&tmp.path().join("missing")).unwrap(),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn default_base_is_per_user() {
    let base = default_base_dir().unwrap();
    let name = base.file_name().unwrap().to_str().unwrap();
    assert!(
        name == "speedbump" || name == format!("speedbump-{}", current_uid()),
        "{}",
        base.display()
    );
}

/// Another user swaps a session directory for a link to a directory of
/// ours: removing the session must not touch the link's target.
#[test]
fn removing_a_session_never_follows_a_swapped_link() {
    let tmp = private_dir("ipc-session");
    let base = tmp.path().join("base");
    let session = base.join("s-1-2-abc");
    ensure_session_dir(&session).unwrap();
    std::fs::write(session.join("p-1-1.seg"), b"x").unwrap();
    let victim = tmp.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("precious.txt"), b"keep me").unwrap();
    std::fs::rename(&session, base.join("moved")).unwrap();
    std::os::unix::fs::symlink(&victim, &session).unwrap();

    let _ = speedbump::ipc::remove_session_dir(&session);
    assert_eq!(
        std::fs::read(victim.join("precious.txt")).unwrap(),
        b"keep me"
    );
    let _ = clean_stale_sessions(&base);
    assert!(victim.join("precious.txt").exists());
}

/// A base that is not a private directory of ours (open to others, a link,
/// another user's) is neither used nor cleaned: another private base is
/// created beside it, and the note says why.
#[test]
fn a_planted_base_is_never_used_and_another_private_one_is_chosen() {
    let tmp = private_dir("ipc-session");
    let planted = tmp.path().join("speedbump-planted");
    std::fs::create_dir(&planted).unwrap();
    std::fs::set_permissions(&planted, PermissionsExt::from_mode(0o777)).unwrap();
    let dead = dead_pid();
    let stale = planted.join(format!("s-{dead}-{}-aa", my_start_ticks()));
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("keep"), b"x").unwrap();
    let err = clean_stale_sessions(&planted).unwrap_err();
    assert!(err.is_unsafe_directory(), "{err}");
    assert!(
        stale.join("keep").exists(),
        "nothing in a planted base is removed"
    );

    let link = tmp.path().join("speedbump-link");
    let elsewhere = private_dir("ipc-session-elsewhere");
    std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();
    let mut planted_bases = vec![planted.clone(), link.clone()];
    if current_uid() == 0 {
        // A base another user owns, private to them.
        let foreign = tmp.path().join("speedbump-foreign");
        std::fs::create_dir(&foreign).unwrap();
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
        std::fs::set_permissions(&foreign, PermissionsExt::from_mode(0o700)).unwrap();
        planted_bases.push(foreign);
    }
    for default in planted_bases {
        let choice = speedbump::ipc::private_base_at(&default).unwrap();
        let chosen = choice.dir.path().to_path_buf();
        assert_ne!(chosen, default);
        assert_eq!(chosen.parent(), default.parent());
        assert_eq!(mode(&chosen), 0o700);
        assert_eq!(
            std::fs::symlink_metadata(&chosen).unwrap().uid(),
            current_uid()
        );
        let note = choice.note.unwrap();
        assert!(note.contains(&default.display().to_string()), "{note}");
        let session = Session::create_in(&choice.dir).unwrap();
        assert_eq!(session.path().parent(), Some(chosen.as_path()));
    }
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);

    // A private default is used as it is, silently.
    let mine = tmp.path().join("speedbump-mine");
    let choice = speedbump::ipc::private_base_at(&mine).unwrap();
    assert_eq!(choice.dir.path(), mine);
    assert!(choice.note.is_none());
}

/// The launcher's `inject/` folder (a package two levels down) goes with
/// the session; a link inside it is removed, never followed.
#[test]
fn removing_a_session_empties_its_subdirectories_without_following_links() {
    let tmp = private_dir("ipc-session");
    let session = tmp.path().join("base").join("s-1-2-abc");
    ensure_session_dir(&session).unwrap();
    std::fs::write(session.join("p-1-1.seg"), b"x").unwrap();
    let package = session.join("inject").join("speedbump");
    std::fs::create_dir_all(&package).unwrap();
    std::fs::write(package.join("__init__.py"), b"").unwrap();
    std::fs::write(session.join("inject").join("sitecustomize.py"), b"").unwrap();
    let victim = tmp.path().join("victim");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("precious.txt"), b"keep me").unwrap();
    std::os::unix::fs::symlink(&victim, session.join("inject").join("link")).unwrap();

    speedbump::ipc::remove_session_dir(&session).unwrap();
    assert!(!session.exists());
    assert_eq!(
        std::fs::read(victim.join("precious.txt")).unwrap(),
        b"keep me"
    );
}
