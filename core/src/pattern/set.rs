//! A target file: include patterns in order, exclude patterns, and the
//! decision for one function.

use std::collections::HashMap;
use std::path::Path;

use super::error::PatternError;
use super::{MP_MAIN, Pattern, grammar};

/// The patterns of one target file.
///
/// Excludes win: a function matched by any exclude pattern is never delayed,
/// wherever the exclude stands in the file. This keeps a file readable as
/// two lists ("these, but never those") rather than an ordered rule chain.
///
/// Each pattern is stored once. Include patterns whose module glob is a
/// plain module name are indexed by it, so deciding a function looks at
/// the patterns for its module and at the others, not at every pattern: a
/// targets file of 100,000 names costs what a short one does per function.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatternSet {
    /// (line, exclude, index into `includes` or `excludes`), in file order.
    lines: Vec<(u32, bool, usize)>,
    includes: Vec<Pattern>,
    excludes: Vec<Pattern>,
    /// Indices of the include patterns whose module glob is this literal
    /// module name, ascending.
    by_module: HashMap<String, Vec<usize>>,
    /// Indices of the other include patterns (wildcards, paths), ascending.
    unindexed: Vec<usize>,
}

impl PatternSet {
    /// Parses a whole target file; the first error wins. A file with only
    /// comments and blank lines parses to an empty set (see
    /// [`PatternSet::is_empty`]), which callers should report.
    pub fn parse_file_text(source: &str, text: &str) -> Result<PatternSet, PatternError> {
        let (set, errors) = parse_collecting(source, text);
        match errors.into_iter().next() {
            Some(error) => Err(error),
            None => Ok(set),
        }
    }

    /// Like [`PatternSet::parse_file_text`], but returns every error (one
    /// per bad line), so `speedbump check` can list them all at once.
    pub fn parse_file_text_all(source: &str, text: &str) -> Result<PatternSet, Vec<PatternError>> {
        let (set, errors) = parse_collecting(source, text);
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(errors)
        }
    }

    /// Reads and parses a target file. A file that cannot be read gives an
    /// error with line and column 0 (`PATH: cannot read: No such file or
    /// directory`); a file that is not UTF-8 gives the position of the first
    /// bad byte.
    pub fn load(path: &Path) -> Result<PatternSet, PatternError> {
        let source = path.display().to_string();
        let text = read_text(&source, path)?;
        PatternSet::parse_file_text(&source, &text)
    }

    /// Like [`PatternSet::load`], but returns every error in the file.
    pub fn load_all(path: &Path) -> Result<PatternSet, Vec<PatternError>> {
        let source = path.display().to_string();
        let text = read_text(&source, path).map_err(|e| vec![e])?;
        PatternSet::parse_file_text_all(&source, &text)
    }

    /// A set from patterns parsed one by one (e.g. repeated `--pattern`);
    /// [`PatternSet::lines`] numbers them 1, 2, ... in the given order.
    pub fn from_patterns(patterns: Vec<Pattern>) -> PatternSet {
        let mut set = PatternSet::default();
        for (index, pattern) in patterns.into_iter().enumerate() {
            let line = u32::try_from(index.saturating_add(1)).unwrap_or(u32::MAX);
            set.push(line, pattern);
        }
        set
    }

    fn push(&mut self, line: u32, pattern: Pattern) {
        if pattern.is_exclude() {
            self.lines.push((line, true, self.excludes.len()));
            self.excludes.push(pattern);
        } else {
            let index = self.includes.len();
            match pattern.literal_module() {
                Some(module) => self.by_module.entry(module).or_default().push(index),
                None => self.unindexed.push(index),
            }
            self.lines.push((line, false, index));
            self.includes.push(pattern);
        }
    }

    /// Include patterns in file order; [`PatternSet::decide`] indexes this.
    pub fn includes(&self) -> &[Pattern] {
        &self.includes
    }

    /// Exclude patterns in file order.
    pub fn excludes(&self) -> &[Pattern] {
        &self.excludes
    }

    /// Every pattern with its 1-based line number, in file order.
    pub fn lines(&self) -> impl Iterator<Item = (u32, &Pattern)> + '_ {
        self.lines.iter().filter_map(|&(line, exclude, index)| {
            let side = if exclude {
                &self.excludes
            } else {
                &self.includes
            };
            side.get(index).map(|pattern| (line, pattern))
        })
    }

    /// Whether there is no include pattern, so nothing can ever be delayed.
    pub fn is_empty(&self) -> bool {
        self.includes.is_empty()
    }

    /// The index into [`PatternSet::includes`] of the first include pattern
    /// that matches, or `None` if none does or any exclude pattern matches
    /// (an exclude wins wherever it stands in the file).
    ///
    /// Runs once per code object in the hook; allocation-free.
    pub fn decide(&self, module: &str, filename: &str, qualname: &str) -> Option<usize> {
        // The first matching pattern of each candidate list (each ascending);
        // the earliest of them is the first in the file.
        let first_in = |indices: &[usize]| {
            indices.iter().copied().find(|&i| {
                self.includes
                    .get(i)
                    .is_some_and(|p| p.matches(module, filename, qualname))
            })
        };
        let literal = |name: &str| self.by_module.get(name).and_then(|v| first_in(v));
        // multiprocessing's `__mp_main__` is matched as `__main__` too.
        let main = if module == MP_MAIN {
            literal("__main__")
        } else {
            None
        };
        let index = [literal(module), main, first_in(&self.unindexed)]
            .into_iter()
            .flatten()
            .min()?;
        let excluded = self
            .excludes
            .iter()
            .any(|p| p.matches(module, filename, qualname));
        (!excluded).then_some(index)
    }
}

/// Parses every line, keeping the patterns of good lines and every error.
fn parse_collecting(source: &str, text: &str) -> (PatternSet, Vec<PatternError>) {
    // A UTF-8 byte order mark, as some Windows editors write, is not content.
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut set = PatternSet::default();
    let mut errors = Vec::new();
    for (index, raw) in text.split('\n').enumerate() {
        let line_text = raw.strip_suffix('\r').unwrap_or(raw);
        let line = u32::try_from(index.saturating_add(1)).unwrap_or(u32::MAX);
        match grammar::parse_line(line_text) {
            Ok(Some(pattern)) => set.push(line, pattern),
            Ok(None) => {}
            Err(problem) => errors.push(PatternError::at(
                source,
                line,
                line_text,
                problem.offset,
                problem.message,
            )),
        }
    }
    (set, errors)
}

/// The file's text, or an error naming the reason (I/O or encoding).
/// Advice given with every refusal of a targets file.
const PRIVATE_PATH_ADVICE: &str =
    "keep target files in a directory of your own (e.g. ~/speedbump-targets.txt), not in /tmp";

/// Reads a regular file, never through a link and never blocking: another
/// user's FIFO at a shared path (e.g. in /tmp) would otherwise hang every
/// hooked process at start, and their link would choose our patterns.
fn read_regular_file(path: &Path) -> std::io::Result<Vec<u8>> {
    use rustix::fs::{FileType, Mode, OFlags};
    use std::io::Read;
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = rustix::fs::open(path, flags, Mode::empty()).map_err(|e| {
        if e == rustix::io::Errno::LOOP {
            std::io::Error::other(format!(
                "it is a symbolic link, which speedbump does not follow; {PRIVATE_PATH_ADVICE}"
            ))
        } else {
            e.into()
        }
    })?;
    let stat = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(std::io::Error::other(format!(
            "not a regular file (a directory, FIFO or device); {PRIVATE_PATH_ADVICE}"
        )));
    }
    let mut bytes = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A warning when another user could change the targets file at `path`
/// (it is writable by group or others, or owned by another user), with
/// advice; `None` when only we (or root) can.
pub fn targets_file_warning(path: &Path) -> Option<String> {
    let stat = rustix::fs::lstat(path).ok()?;
    let uid = rustix::process::getuid().as_raw();
    let mode = stat.st_mode & 0o7777;
    let problem = if stat.st_uid != uid && stat.st_uid != 0 {
        format!("is owned by uid {}", stat.st_uid)
    } else if mode & 0o022 != 0 {
        format!("has mode {mode:04o}, so other users can change it")
    } else {
        return None;
    };
    Some(format!(
        "the targets file {} {problem}: they choose what is slowed; {PRIVATE_PATH_ADVICE}",
        path.display()
    ))
}

fn read_text(source: &str, path: &Path) -> Result<String, PatternError> {
    let bytes = read_regular_file(path).map_err(|e| {
        let mut reason = e.to_string();
        // "No such file or directory (os error 2)": the number helps nobody.
        if let Some(at) = reason.find(" (os error ") {
            reason.truncate(at);
        }
        PatternError::whole(source, format!("cannot read: {reason}"))
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let valid = bytes
            .get(..e.utf8_error().valid_up_to())
            .unwrap_or_default();
        let line_start = valid
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i.saturating_add(1));
        let line_end = bytes
            .get(line_start..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
            .map_or(bytes.len(), |i| i.saturating_add(line_start));
        let line_bytes = bytes.get(line_start..line_end).unwrap_or_default();
        let line_text = String::from_utf8_lossy(line_bytes);
        let line_text = line_text.strip_suffix('\r').unwrap_or(&line_text);
        let line_number = valid
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            .saturating_add(1);
        // Offset of the bad byte within the line; the lossy text has the same
        // valid prefix, so it is a character boundary there.
        let offset = valid.len().saturating_sub(line_start);
        PatternError::at(
            source,
            u32::try_from(line_number).unwrap_or(u32::MAX),
            line_text,
            offset,
            "not valid UTF-8; save the file as UTF-8",
        )
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod file_tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// Another user's FIFO at the targets path used to hang every hooked
    /// process at start; their link chose our patterns.
    #[test]
    fn targets_files_that_are_fifos_links_or_directories_are_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.txt");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let real = dir.path().join("real.txt");
        std::fs::write(&real, "*:*\n").unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        for path in [fifo.as_path(), link.as_path(), dir.path()] {
            let err = PatternSet::load(path).unwrap_err().one_line();
            assert!(err.contains("not in /tmp"), "{err}");
        }
        assert_eq!(PatternSet::load(&real).unwrap().includes().len(), 1);
    }

    #[test]
    fn a_targets_file_others_can_change_is_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        std::fs::write(&path, "*:*\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(targets_file_warning(&path), None);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let warning = targets_file_warning(&path).unwrap();
        assert!(
            warning.contains("0666") && warning.contains("not in /tmp"),
            "{warning}"
        );
    }
}
