//! `speedbump check FILE`: validate a target file and show what each line
//! will match, before a long benchmark run finds out.
//!
//! Exit status: 0 valid, 1 valid but matches nothing (no include pattern),
//! 2 invalid or unreadable. Errors print with a caret under the column.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::pattern::{PatternError, PatternSet};

const AFTER_HELP: &str = "\
Target file syntax: one pattern per line, MODULE_GLOB:FUNCTION_GLOB.
  numpy.*:*                  every function in numpy and its submodules
  *:*matmul*                 functions whose qualified name contains 'matmul'
  !numpy.testing.*:*         exclude (wins over any include)
  */vllm/worker/*:*          a module glob with '/' matches the file path
  # comment                  also after a pattern, behind whitespace
Globs: * (any text, dots too), ? (one character), [a-z] [!0-9] (classes).

Example:
  printf 'numpy.*:*\\n!numpy.testing.*:*\\n' > targets.txt
  speedbump check targets.txt

Exit status: 0 valid, 1 matches nothing, 2 invalid or unreadable.";

/// Validate a target file and print what each line means.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct CheckArgs {
    /// Target file (as in SPEED_BUMP_TARGETS): one pattern per line.
    pub file: PathBuf,
}

/// Runs `speedbump check`.
pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let code = check(args, &mut io::stdout().lock(), &mut io::stderr().lock())?;
    Ok(ExitCode::from(code))
}

/// The check itself, writing to the given streams; returns the exit status.
fn check(args: &CheckArgs, out: &mut impl Write, err: &mut impl Write) -> io::Result<u8> {
    let name = args.file.display().to_string();
    let set = match PatternSet::load_all(&args.file) {
        Ok(set) => set,
        Err(errors) => {
            write_errors(err, &errors)?;
            return Ok(2);
        }
    };
    if set.lines().next().is_some() {
        write_table(out, &set)?;
    }
    if set.is_empty() {
        writeln!(
            err,
            "speedbump: warning: {name} has no include pattern, so it matches nothing; \
             add one per line (e.g. 'numpy.*:*')"
        )?;
        return Ok(1);
    }
    Ok(0)
}

fn write_errors(err: &mut impl Write, errors: &[PatternError]) -> io::Result<()> {
    for (index, error) in errors.iter().enumerate() {
        if index > 0 {
            writeln!(err)?;
        }
        writeln!(err, "{error}")?;
    }
    if errors.len() > 1 {
        writeln!(err, "\n{} errors", errors.len())?;
    }
    Ok(())
}

/// One row per pattern in aligned columns, then the counts.
/// The widest padded column of the table.
const MAX_COLUMN_WIDTH: usize = 120;

fn write_table(out: &mut impl Write, set: &PatternSet) -> io::Result<()> {
    let rows: Vec<(String, String, &str, String)> = set
        .lines()
        .map(|(line, pattern)| {
            let (written, kind) = if pattern.is_exclude() {
                (format!("!{}", pattern.text()), "exclude")
            } else {
                (pattern.text().to_owned(), "include")
            };
            (line.to_string(), written, kind, pattern.describe())
        })
        .collect();
    let line_width = rows
        .iter()
        .map(|r| r.0.len())
        .max()
        .unwrap_or(0)
        .clamp(4, MAX_COLUMN_WIDTH);
    let pattern_width = rows
        .iter()
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(0)
        .max("pattern".len())
        // Padding widths must fit the formatter's u16 (a 65,536-character
        // pattern panicked here); a longer pattern just overflows its column.
        .min(MAX_COLUMN_WIDTH);
    writeln!(
        out,
        "{:>line_width$}  {:<pattern_width$}  {:<7}  meaning",
        "line", "pattern", "kind"
    )?;
    for (line, written, kind, meaning) in &rows {
        writeln!(
            out,
            "{line:>line_width$}  {written:<pattern_width$}  {kind:<7}  {meaning}"
        )?;
    }
    let includes = set.includes().len();
    let excludes = set.excludes().len();
    writeln!(
        out,
        "{includes} include pattern{}, {excludes} exclude{}",
        plural(includes),
        plural(excludes)
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
