//! Pattern errors with their position, in two renderings: one line for the
//! hook (which must not flood the user's program output) and a caret display
//! for `speedbump check`.

use std::fmt;

/// A target file or pattern that cannot be used, with where and why.
///
/// `line` and `column` are 1-based, the column counted in characters (a tab
/// is one character). Both are 0 when the problem is not inside the text
/// (the file cannot be read).
///
/// Implemented by hand rather than with `thiserror` because `thiserror`
/// treats a field named `source` as the underlying error, and `source` here
/// is the name of the file or setting the text came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// Where the text came from: a file path, `--pattern`, `SPEED_BUMP_TARGETS`.
    pub source: String,
    /// 1-based line number; 0 if the error is not about a line.
    pub line: u32,
    /// 1-based column in characters; 0 if the error is not about a line.
    pub column: u32,
    /// The offending line as written (without its line ending).
    pub line_text: String,
    /// What is wrong and what to write instead.
    pub message: String,
}

/// Tab stops used when showing a line under its caret.
const TAB_WIDTH: usize = 4;

impl PatternError {
    /// An error at byte `offset` of `line_text` (an offset that is not a
    /// character boundary is counted up to the previous boundary).
    pub fn at(
        source: &str,
        line: u32,
        line_text: &str,
        offset: usize,
        message: impl Into<String>,
    ) -> PatternError {
        let before: usize = line_text
            .char_indices()
            .take_while(|&(i, _)| i < offset)
            .count();
        PatternError {
            source: source.to_owned(),
            line,
            column: u32::try_from(before.saturating_add(1)).unwrap_or(u32::MAX),
            line_text: line_text.to_owned(),
            message: message.into(),
        }
    }

    /// An error about the whole source, not a line in it.
    pub(crate) fn whole(source: &str, message: impl Into<String>) -> PatternError {
        PatternError {
            source: source.to_owned(),
            line: 0,
            column: 0,
            line_text: String::new(),
            message: message.into(),
        }
    }

    /// `SOURCE:LINE:COLUMN: MESSAGE` (or `SOURCE: MESSAGE` without a
    /// position), for the hook's single `speedbump:` error line.
    pub fn one_line(&self) -> String {
        if self.line == 0 {
            format!("{}: {}", self.source, self.message)
        } else {
            format!(
                "{}:{}:{}: {}",
                self.source, self.line, self.column, self.message
            )
        }
    }
}

impl fmt::Display for PatternError {
    /// The one-line form, then the line and a caret under the column:
    ///
    /// ```text
    /// targets.txt:2:8: expected ':' between the module glob and ...
    ///   2 | numpy.*
    ///     |        ^
    /// ```
    ///
    /// Tabs are expanded, control characters shown as `�`, and East Asian
    /// wide characters counted as two cells, so the caret lines up in a
    /// terminal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.one_line())?;
        if self.line == 0 {
            return Ok(());
        }
        let (shown, caret_cells) = render_line(&self.line_text, self.column);
        let gutter = self.line.to_string();
        let blank = " ".repeat(gutter.len());
        write!(f, "\n  {gutter} | {shown}")?;
        write!(f, "\n  {blank} | {}^", " ".repeat(caret_cells))
    }
}

impl std::error::Error for PatternError {}

/// The line as it should be printed, and how many terminal cells precede
/// column `column` (1-based, in characters) in that printed form.
fn render_line(line: &str, column: u32) -> (String, usize) {
    let before_column = usize::try_from(column.saturating_sub(1)).unwrap_or(usize::MAX);
    let mut shown = String::with_capacity(line.len());
    let mut cells = 0usize;
    let mut caret_cells = None;
    for (index, c) in line.chars().enumerate() {
        if index == before_column {
            caret_cells = Some(cells);
        }
        if c == '\t' {
            let width = TAB_WIDTH - cells % TAB_WIDTH;
            shown.extend(std::iter::repeat_n(' ', width));
            cells += width;
        } else if c.is_control() {
            shown.push('\u{FFFD}');
            cells += 1;
        } else {
            shown.push(c);
            cells += display_width(c);
        }
    }
    (shown, caret_cells.unwrap_or(cells))
}

/// Terminal cells taken by `c`: 0 for combining marks and zero-width
/// characters, 2 for East Asian wide and emoji ranges, else 1. A small table
/// instead of the `unicode-width` crate: only caret alignment depends on it.
fn display_width(c: char) -> usize {
    match u32::from(c) {
        0x0300..=0x036F | 0x200B..=0x200F | 0xFE00..=0xFE0F | 0x20D0..=0x20FF => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn error(line_text: &str, offset: usize) -> PatternError {
        PatternError::at("t.txt", 3, line_text, offset, "bad")
    }

    #[test]
    fn one_line_and_caret() {
        let e = error("numpy.*", 7);
        assert_eq!(e.column, 8);
        assert_eq!(e.one_line(), "t.txt:3:8: bad");
        assert_eq!(
            e.to_string(),
            "t.txt:3:8: bad\n  3 | numpy.*\n    |        ^"
        );
    }

    #[test]
    fn caret_lines_up_after_tabs_and_wide_characters() {
        // Column counts characters; the caret counts cells.
        let e = error("\tné漢 x", "\tné漢 ".len());
        assert_eq!(e.column, 6);
        assert_eq!(
            e.to_string(),
            "t.txt:3:6: bad\n  3 |     né漢 x\n    |          ^"
        );
    }

    #[test]
    fn control_characters_are_replaced() {
        let e = error("a\u{7}b", 2);
        assert_eq!(e.to_string(), "t.txt:3:3: bad\n  3 | a\u{FFFD}b\n    |   ^");
    }

    #[test]
    fn whole_file_errors_have_one_line() {
        let e = PatternError::whole("t.txt", "cannot read: No such file or directory");
        assert_eq!(
            e.one_line(),
            "t.txt: cannot read: No such file or directory"
        );
        assert_eq!(e.to_string(), e.one_line());
    }
}
