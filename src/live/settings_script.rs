//! Scripted settings changes: the `--schedule` file and `--control-stdin`
//! commands.
//!
//! ```text
//! # comments and blank lines are ignored
//! at 2s delay 10us                 # times count from the workload's start
//! at +3s off                       # +T: T after the previous line
//! at 5s patterns numpy.*:* !numpy.testing.*:*
//! at 5s add-pattern zmq.*:*        # same time: applied together, one change
//! at 6s remove-pattern zmq.*:*
//! at 7s targets other.txt          # a target file (relative to this file)
//! at 7s frequency 10
//! at 8s resume on                  # also delay generator/coroutine resumes
//! at 8s c-calls off                # match C functions at call sites
//! at 8s progress bench:Engine.step # progress points (none: `progress`)
//! at 9s on
//! at 10s stop                      # stop the workload (as Ctrl-C does)
//! ```
//!
//! Every line is checked before the run starts (file:line:column and a
//! caret), including that `remove-pattern` removes a pattern that is there.
//! Commands read with `--control-stdin` are the same without `at TIME`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::settings::{
    LiveSettings, load_target_file, normalise_pattern, normalise_progress_point,
};
use crate::pattern::PatternError;
use crate::units::{parse_duration_ns, parse_flag, parse_positive_count};

/// One settings change (or `stop`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlCommand {
    /// `delay DURATION`
    Delay(u64),
    /// `frequency N`
    Frequency(u64),
    /// `patterns P...`: replace every pattern.
    SetPatterns(Vec<String>),
    /// `add-pattern P...`
    AddPatterns(Vec<String>),
    /// `remove-pattern P...`
    RemovePatterns(Vec<String>),
    /// `targets FILE`: replace every pattern with the file's.
    Targets {
        /// The file as resolved.
        path: PathBuf,
        /// Its pattern lines, read and checked when the command was parsed.
        patterns: Vec<String>,
    },
    /// `progress P...`: replace the progress points.
    ProgressPoints(Vec<String>),
    /// `on` / `off`
    Enabled(bool),
    /// `resume on|off`
    DelayResumes(bool),
    /// `c-calls on|off`
    MatchCCalls(bool),
    /// `stop`
    Stop,
}

impl ControlCommand {
    /// Applies the command to `settings`. `Err` says why it cannot apply
    /// (a pattern to remove is not there); `settings` is then unchanged.
    pub fn apply(&self, settings: &mut LiveSettings) -> Result<(), String> {
        match self {
            Self::Delay(ns) => settings.delay_ns = *ns,
            Self::Frequency(n) => settings.frequency = *n,
            Self::SetPatterns(patterns) | Self::Targets { patterns, .. } => {
                settings.patterns.clone_from(patterns);
            }
            Self::AddPatterns(patterns) => {
                for pattern in patterns {
                    if !settings.patterns.contains(pattern) {
                        settings.patterns.push(pattern.clone());
                    }
                }
            }
            Self::RemovePatterns(patterns) => {
                if let Some(missing) = patterns.iter().find(|p| !settings.patterns.contains(p)) {
                    return Err(format!(
                        "'{missing}' is not among the patterns at this point ({})",
                        describe_patterns(&settings.patterns)
                    ));
                }
                settings.patterns.retain(|p| !patterns.contains(p));
            }
            Self::ProgressPoints(points) => settings.progress_points.clone_from(points),
            Self::Enabled(on) => settings.enabled = *on,
            Self::DelayResumes(on) => settings.delay_resumes = *on,
            Self::MatchCCalls(on) => settings.match_c_calls = *on,
            Self::Stop => {}
        }
        Ok(())
    }

    /// True for `stop`.
    pub fn is_stop(&self) -> bool {
        matches!(self, Self::Stop)
    }
}

fn describe_patterns(patterns: &[String]) -> String {
    if patterns.is_empty() {
        "there are none".to_owned()
    } else {
        format!("patterns: {}", patterns.join(" "))
    }
}

/// One timed line of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleStep {
    /// When, counted from the workload's start.
    pub at: Duration,
    /// 1-based line in the schedule file.
    pub line: u32,
    /// What changes.
    pub command: ControlCommand,
}

/// A checked schedule: steps in time order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Where the schedule came from (a path), for messages.
    pub source: String,
    /// Steps, in non-decreasing time order.
    pub steps: Vec<ScheduleStep>,
}

impl Schedule {
    /// Reads and parses a schedule file; `targets FILE` paths are relative
    /// to the file's directory.
    pub fn load(path: &Path) -> Result<Schedule, PatternError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PatternError {
            source: source.clone(),
            line: 0,
            column: 0,
            line_text: String::new(),
            message: format!("cannot read the schedule: {e}"),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Schedule::parse(&source, &text, base)
    }

    /// Parses schedule text; `source` names it in errors, `base_dir`
    /// resolves relative `targets` paths.
    pub fn parse(source: &str, text: &str, base_dir: &Path) -> Result<Schedule, PatternError> {
        let mut steps = Vec::new();
        let mut previous = Duration::ZERO;
        for (index, raw) in text.lines().enumerate() {
            let line_no = u32::try_from(index.saturating_add(1)).unwrap_or(u32::MAX);
            let line = Line::new(source, line_no, raw);
            let tokens = tokens(strip_comment(raw));
            let Some(&(at_offset, keyword)) = tokens.first() else {
                continue;
            };
            if keyword != "at" {
                return Err(line.error(
                    at_offset,
                    "expected 'at TIME COMMAND' (e.g. 'at 2s delay 10us')",
                ));
            }
            let Some(&(time_offset, time)) = tokens.get(1) else {
                return Err(line.error(
                    raw.len(),
                    "expected a time after 'at' (e.g. 'at 2s' or 'at +500ms')",
                ));
            };
            let at = parse_time(time, previous).map_err(|m| line.error(time_offset, m))?;
            if at < previous {
                return Err(line.error(
                    time_offset,
                    format!(
                        "{time} is earlier than the line before ({}); keep lines in time order",
                        show_duration(previous)
                    ),
                ));
            }
            let rest = tokens.get(2..).unwrap_or_default();
            if rest.is_empty() {
                return Err(line.error(raw.len(), format!("expected a command; {COMMANDS}")));
            }
            let command = parse_tokens(&line, rest, base_dir)?;
            previous = at;
            steps.push(ScheduleStep {
                at,
                line: line_no,
                command,
            });
        }
        Ok(Schedule {
            source: source.to_owned(),
            steps,
        })
    }

    /// Checks that every step applies to the settings the run starts with
    /// and the steps before it (`remove-pattern` of a missing pattern fails).
    pub fn check(&self, initial: &LiveSettings) -> Result<(), PatternError> {
        let mut settings = initial.clone();
        for step in &self.steps {
            step.command
                .apply(&mut settings)
                .map_err(|message| PatternError {
                    source: self.source.clone(),
                    line: step.line,
                    column: 0,
                    line_text: String::new(),
                    message,
                })?;
        }
        Ok(())
    }
}

/// Walks a schedule as time passes.
#[derive(Debug, Clone, Default)]
pub struct ScheduleCursor {
    next: usize,
}

impl ScheduleCursor {
    /// The steps due at `elapsed` not returned before.
    pub fn due<'a>(&mut self, schedule: &'a Schedule, elapsed: Duration) -> &'a [ScheduleStep] {
        let start = self.next;
        while schedule
            .steps
            .get(self.next)
            .is_some_and(|step| step.at <= elapsed)
        {
            self.next = self.next.saturating_add(1);
        }
        schedule.steps.get(start..self.next).unwrap_or_default()
    }

    /// When the next step is due, if any is left.
    pub fn next_at(&self, schedule: &Schedule) -> Option<Duration> {
        schedule.steps.get(self.next).map(|s| s.at)
    }
}

/// Parses one command line as read from `--control-stdin` (no `at TIME`).
/// Blank lines and comments give `Ok(None)`.
pub fn parse_command(
    source: &str,
    line_no: u32,
    text: &str,
    base_dir: &Path,
) -> Result<Option<ControlCommand>, PatternError> {
    let line = Line::new(source, line_no, text);
    let tokens = tokens(strip_comment(text));
    if tokens.is_empty() {
        return Ok(None);
    }
    if tokens.first().is_some_and(|&(_, word)| word == "at") {
        return Err(line.error(
            0,
            "commands on stdin apply at once: drop 'at TIME' (use --schedule for timed changes)",
        ));
    }
    parse_tokens(&line, &tokens, base_dir).map(Some)
}

const COMMANDS: &str = "one of: delay D, frequency N, patterns P..., add-pattern P..., \
     remove-pattern P..., targets FILE, progress P..., on, off, resume on|off, \
     c-calls on|off, stop";

/// A line being parsed, for errors with a caret.
struct Line<'a> {
    source: &'a str,
    number: u32,
    text: &'a str,
}

impl<'a> Line<'a> {
    fn new(source: &'a str, number: u32, text: &'a str) -> Self {
        Self {
            source,
            number,
            text,
        }
    }

    fn error(&self, offset: usize, message: impl Into<String>) -> PatternError {
        PatternError::at(self.source, self.number, self.text, offset, message)
    }

    /// A pattern error from text starting at `offset`, moved onto this line.
    fn shift(&self, offset: usize, error: &PatternError) -> PatternError {
        let inner = usize::try_from(error.column.saturating_sub(1)).unwrap_or(0);
        let byte = self
            .text
            .get(offset..)
            .and_then(|rest| rest.char_indices().nth(inner))
            .map_or(self.text.len(), |(i, _)| offset.saturating_add(i));
        self.error(byte, error.message.clone())
    }
}

/// The command words and their arguments (after `at TIME`).
fn parse_tokens(
    line: &Line<'_>,
    tokens: &[(usize, &str)],
    base_dir: &Path,
) -> Result<ControlCommand, PatternError> {
    let Some((&(offset, word), args)) = tokens.split_first() else {
        return Err(line.error(line.text.len(), format!("expected a command; {COMMANDS}")));
    };
    let end = line.text.len();
    let one = |what: &str| -> Result<(usize, &str), PatternError> {
        match args {
            [arg] => Ok(*arg),
            [] => Err(line.error(end, format!("'{word}' needs {what}"))),
            [_, (extra, _), ..] => Err(line.error(
                *extra,
                format!("unexpected text after '{word}'; it takes {what}"),
            )),
        }
    };
    let none = || -> Result<(), PatternError> {
        match args.first() {
            Some((extra, _)) => Err(line.error(
                *extra,
                format!("unexpected text after '{word}'; it takes nothing"),
            )),
            None => Ok(()),
        }
    };
    let flag = || -> Result<bool, PatternError> {
        let (at, value) = one("on or off")?;
        parse_flag(value).map_err(|e| line.error(at, e.to_string()))
    };
    let patterns = |progress: bool| -> Result<Vec<String>, PatternError> {
        let mut out = Vec::with_capacity(args.len());
        for &(at, text) in args {
            let checked = if progress {
                normalise_progress_point(line.source, text)
            } else {
                normalise_pattern(line.source, text)
            };
            out.push(checked.map_err(|e| line.shift(at, &e))?);
        }
        Ok(out)
    };
    let some_patterns = || -> Result<Vec<String>, PatternError> {
        if args.is_empty() {
            return Err(line.error(
                end,
                format!("'{word}' needs one or more patterns (e.g. 'numpy.*:*')"),
            ));
        }
        patterns(false)
    };
    let command = match word {
        "delay" => {
            let (at, value) = one("a duration (e.g. 10us)")?;
            ControlCommand::Delay(
                parse_duration_ns(value).map_err(|e| line.error(at, e.to_string()))?,
            )
        }
        "frequency" => {
            let (at, value) = one("a count (e.g. 10: every 10th call)")?;
            ControlCommand::Frequency(
                parse_positive_count(value).map_err(|e| line.error(at, e.to_string()))?,
            )
        }
        "patterns" | "pattern" => ControlCommand::SetPatterns(some_patterns()?),
        "add-pattern" => ControlCommand::AddPatterns(some_patterns()?),
        "remove-pattern" => ControlCommand::RemovePatterns(some_patterns()?),
        "targets" => {
            let (at, file) = one("a target file")?;
            let path = base_dir.join(file);
            let patterns = load_target_file(&path).map_err(|e| line.error(at, e.one_line()))?;
            ControlCommand::Targets { path, patterns }
        }
        "progress" => ControlCommand::ProgressPoints(patterns(true)?),
        "on" => {
            none()?;
            ControlCommand::Enabled(true)
        }
        "off" => {
            none()?;
            ControlCommand::Enabled(false)
        }
        "resume" => ControlCommand::DelayResumes(flag()?),
        "c-calls" => ControlCommand::MatchCCalls(flag()?),
        "stop" => {
            none()?;
            ControlCommand::Stop
        }
        other => {
            return Err(line.error(offset, format!("unknown command '{other}'; {COMMANDS}")));
        }
    };
    Ok(command)
}

/// `2s`, `500ms`, `+1.5s` (relative to `previous`). A bare number is
/// refused: nanoseconds are never what a schedule means.
fn parse_time(text: &str, previous: Duration) -> Result<Duration, String> {
    let (relative, value) = match text.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(format!(
            "'{text}' has no unit; write e.g. '{value}s' or '{value}ms'"
        ));
    }
    let ns = parse_duration_ns(value).map_err(|e| e.to_string())?;
    let duration = Duration::from_nanos(ns);
    Ok(if relative {
        previous.saturating_add(duration)
    } else {
        duration
    })
}

fn show_duration(d: Duration) -> String {
    crate::units::format_ns(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The text before a `#` comment.
fn strip_comment(line: &str) -> &str {
    line.split_once('#').map_or(line, |(before, _)| before)
}

/// Whitespace-separated words with their byte offsets.
fn tokens(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, text.get(s..i).unwrap_or_default()));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.get(s..).unwrap_or_default()));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Schedule, PatternError> {
        Schedule::parse("sched.txt", text, Path::new("/nonexistent"))
    }

    #[test]
    fn parses_every_command() {
        let s = parse(
            "# warm up first\n\
             at 2s delay 10us\n\
             at +1s off   # relative\n\
             at 5s patterns numpy.*:* !numpy.testing.*:*\n\
             at 5s add-pattern zmq.*:*\n\
             at 6s remove-pattern zmq.*:*\n\
             at 7s frequency 10\n\
             at 8s resume on\n\
             at 8s c-calls off\n\
             at 8s progress bench:Engine.step\n\
             at 8500ms progress\n\
             at 9s on\n\
             \n\
             at 10s stop\n",
        )
        .unwrap();
        let at: Vec<u64> = s.steps.iter().map(|s| s.at.as_millis() as u64).collect();
        assert_eq!(
            at,
            [
                2000, 3000, 5000, 5000, 6000, 7000, 8000, 8000, 8000, 8500, 9000, 10000
            ]
        );
        assert_eq!(s.steps[0].command, ControlCommand::Delay(10_000));
        assert_eq!(s.steps[0].line, 2);
        assert_eq!(s.steps[1].command, ControlCommand::Enabled(false));
        assert_eq!(
            s.steps[2].command,
            ControlCommand::SetPatterns(vec!["numpy.*:*".into(), "!numpy.testing.*:*".into()])
        );
        assert_eq!(s.steps[5].command, ControlCommand::Frequency(10));
        assert_eq!(s.steps[6].command, ControlCommand::DelayResumes(true));
        assert_eq!(s.steps[7].command, ControlCommand::MatchCCalls(false));
        assert_eq!(
            s.steps[8].command,
            ControlCommand::ProgressPoints(vec!["bench:Engine.step".into()])
        );
        assert_eq!(s.steps[9].command, ControlCommand::ProgressPoints(vec![]));
        assert!(s.steps[11].command.is_stop());
        s.check(&LiveSettings::default()).unwrap();
    }

    #[test]
    fn settings_follow_the_steps() {
        let s = parse("at 1s patterns a:*\nat 1s add-pattern b:* c:*\nat 2s remove-pattern a:*\nat 3s delay 0\n")
            .unwrap();
        let mut settings = LiveSettings::default();
        for step in &s.steps {
            step.command.apply(&mut settings).unwrap();
        }
        assert_eq!(settings.patterns, ["b:*", "c:*"]);
        assert_eq!(settings.delay_ns, 0);
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse("at 1s delay 10us\nat 2s delya 5us\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 7));
        assert!(e.message.contains("unknown command 'delya'"), "{e}");
        assert!(e.to_string().starts_with("sched.txt:2:7: "), "{e}");

        let e = parse("at 2 delay 5us").unwrap_err();
        assert_eq!((e.line, e.column), (1, 4));
        assert!(e.message.contains("no unit"), "{e}");

        let e = parse("at 1s delay 10 parsecs").unwrap_err();
        assert_eq!(e.column, 16, "{e}");

        let e = parse("at 1s patterns a:* b.[x:*").unwrap_err();
        assert_eq!(e.column, 22, "{e}");
        assert!(e.message.contains("'['"), "{e}");

        let e = parse("at 2s off\nat 1s on").unwrap_err();
        assert!(e.message.contains("time order"), "{e}");
        assert_eq!(e.line, 2);

        let e = parse("delay 5us").unwrap_err();
        assert_eq!(e.column, 1);
        let e = parse("at 1s off now").unwrap_err();
        assert_eq!(e.column, 11, "{e}");
        let e = parse("at 1s frequency 0").unwrap_err();
        assert!(e.message.contains("zero"), "{e}");
        let e = parse("at 1s").unwrap_err();
        assert!(e.message.contains("expected a command"), "{e}");
        let e = parse("at 1s progress !a:b").unwrap_err();
        assert!(e.message.contains("drop the '!'"), "{e}");
        let e = parse("at 1s targets missing.txt").unwrap_err();
        assert!(e.message.contains("missing.txt"), "{e}");
    }

    #[test]
    fn check_finds_removals_of_missing_patterns() {
        let s = parse("at 1s remove-pattern a:*\n").unwrap();
        let mut initial = LiveSettings::default();
        let e = s.check(&initial).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("not among the patterns"), "{e}");
        initial.patterns.push("a:*".into());
        s.check(&initial).unwrap();
    }

    #[test]
    fn cursor_returns_each_step_once() {
        let s = parse("at 1s off\nat 1s on\nat 3s stop\n").unwrap();
        let mut cursor = ScheduleCursor::default();
        assert!(cursor.due(&s, Duration::from_millis(500)).is_empty());
        assert_eq!(cursor.next_at(&s), Some(Duration::from_secs(1)));
        assert_eq!(cursor.due(&s, Duration::from_secs(2)).len(), 2);
        assert!(cursor.due(&s, Duration::from_secs(2)).is_empty());
        assert_eq!(cursor.due(&s, Duration::from_secs(9)).len(), 1);
        assert_eq!(cursor.next_at(&s), None);
    }

    #[test]
    fn stdin_commands_have_no_time() {
        let base = Path::new(".");
        assert_eq!(
            parse_command("stdin", 1, "delay 10us", base).unwrap(),
            Some(ControlCommand::Delay(10_000))
        );
        assert_eq!(
            parse_command("stdin", 2, "  # nothing", base).unwrap(),
            None
        );
        let e = parse_command("stdin", 3, "at 1s off", base).unwrap_err();
        assert!(e.message.contains("apply at once"), "{e}");
    }
}
