//! A target file: include patterns in order, exclude patterns, and the
//! decision for one function.

use std::path::Path;

use super::error::PatternError;
use super::{Pattern, grammar};

/// The patterns of one target file.
///
/// Excludes win: a function matched by any exclude pattern is never delayed,
/// wherever the exclude stands in the file. This keeps a file readable as
/// two lists ("these, but never those") rather than an ordered rule chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatternSet {
    lines: Vec<(u32, Pattern)>,
    includes: Vec<Pattern>,
    excludes: Vec<Pattern>,
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
            self.excludes.push(pattern.clone());
        } else {
            self.includes.push(pattern.clone());
        }
        self.lines.push((line, pattern));
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
    pub fn lines(&self) -> &[(u32, Pattern)] {
        &self.lines
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
        let index = self
            .includes
            .iter()
            .position(|p| p.matches(module, filename, qualname))?;
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
fn read_text(source: &str, path: &Path) -> Result<String, PatternError> {
    let bytes = std::fs::read(path).map_err(|e| {
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
