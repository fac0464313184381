//! The workload's stdout and stderr: read line by line, scanned for progress,
//! and handed to an [`OutputSink`] that shows them.
//!
//! A line ends at `\n`, `\r\n` or a lone `\r` (progress bars redraw with `\r`);
//! each piece keeps its terminator, so a sink that writes the bytes as they
//! came reproduces the workload's output exactly. Lines longer than
//! [`MAX_LINE`] are handed over in pieces of that size.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use super::progress::{RegexProgress, RegexSlot};

/// Longest piece handed over without a line terminator.
pub const MAX_LINE: usize = 64 * 1024;

/// Which of the workload's streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Shows the workload's output. Called from the reader threads (one per
/// stream) with the complete lines of one read.
pub trait OutputSink: Send + Sync {
    /// `lines` each end with their terminator, except a last piece at end of
    /// stream or one cut at [`MAX_LINE`].
    fn lines(&self, stream: Stream, lines: &[&[u8]]);
}

/// Writes the lines to this process's stdout and stderr as they came
/// (stdout lines to stderr when `stdout_to_stderr`, so that stdout can carry
/// JSON). A stream that fails (closed pipe) is dropped silently.
#[derive(Debug, Default)]
pub struct Passthrough {
    /// Show the workload's stdout on stderr.
    pub stdout_to_stderr: bool,
    broken: [AtomicBool; 2],
}

impl Passthrough {
    /// A passthrough sink.
    pub fn new(stdout_to_stderr: bool) -> Self {
        Self {
            stdout_to_stderr,
            broken: [AtomicBool::new(false), AtomicBool::new(false)],
        }
    }
}

impl OutputSink for Passthrough {
    fn lines(&self, stream: Stream, lines: &[&[u8]]) {
        let to_stdout = stream == Stream::Stdout && !self.stdout_to_stderr;
        let Some(broken) = self.broken.get(usize::from(!to_stdout)) else {
            return;
        };
        if broken.load(Ordering::Relaxed) {
            return;
        }
        let result = if to_stdout {
            write_all_lines(&mut io::stdout().lock(), lines)
        } else {
            write_all_lines(&mut io::stderr().lock(), lines)
        };
        if result.is_err() {
            broken.store(true, Ordering::Relaxed);
        }
    }
}

/// Writes each line and flushes once.
pub fn write_all_lines(out: &mut impl Write, lines: &[&[u8]]) -> io::Result<()> {
    for line in lines {
        out.write_all(line)?;
    }
    out.flush()
}

/// Drops the output (tests, `--quiet` without a terminal is not this: the
/// workload's output is always shown by the command-line tool).
#[derive(Debug, Default)]
pub struct Discard;

impl OutputSink for Discard {
    fn lines(&self, _: Stream, _: &[&[u8]]) {}
}

/// Splits a byte stream into lines, keeping each terminator.
#[derive(Debug, Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// Adds `data` and returns the byte ranges (into [`LineSplitter::buffer`])
    /// of the complete lines; call [`LineSplitter::consume`] after using them.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<std::ops::Range<usize>>) {
        self.pending.extend_from_slice(data);
        out.clear();
        let bytes = &self.pending;
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            let end = match bytes.get(i) {
                Some(b'\n') => Some(i + 1),
                Some(b'\r') => match bytes.get(i + 1) {
                    Some(b'\n') => Some(i + 2),
                    Some(_) => Some(i + 1),
                    // A final `\r` may be the first half of `\r\n`: wait.
                    None => None,
                },
                _ => None,
            };
            if let Some(end) = end {
                out.push(start..end);
                start = end;
                i = end;
            } else if i + 1 - start >= MAX_LINE {
                out.push(start..i + 1);
                start = i + 1;
                i += 1;
            } else {
                i += 1;
            }
        }
    }

    /// The buffer the ranges of the last [`LineSplitter::push`] refer to.
    pub fn buffer(&self) -> &[u8] {
        &self.pending
    }

    /// Drops the bytes of the lines returned by the last push.
    pub fn consume(&mut self, ranges: &[std::ops::Range<usize>]) {
        if let Some(last) = ranges.last() {
            self.pending.drain(..last.end);
        }
    }

    /// What is left at end of stream (a last line without terminator).
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }
}

/// The line without its terminator.
pub fn strip_terminator(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Reads `reader` to its end on a new thread: each read's complete lines go
/// to the progress regex in force in `regex` (if any; looked up for every
/// read, so a regex swapped in counts from the next lines on) and then to
/// `sink`. `warn` receives the regex's warnings.
pub fn spawn_pump(
    mut reader: impl Read + Send + 'static,
    stream: Stream,
    sink: Arc<dyn OutputSink>,
    regex: RegexSlot,
    warn: Arc<dyn Fn(String) + Send + Sync>,
) -> io::Result<JoinHandle<()>> {
    let name = match stream {
        Stream::Stdout => "speedbump-stdout",
        Stream::Stderr => "speedbump-stderr",
    };
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut splitter = LineSplitter::default();
            let mut chunk = vec![0u8; 64 * 1024];
            let mut ranges = Vec::new();
            let scan = |regex: Option<&RegexProgress>, line: &[u8], at: Instant| {
                if let Some(regex) = regex {
                    let text = String::from_utf8_lossy(strip_terminator(line));
                    if let Some(warning) = regex.observe_line(&text, at) {
                        warn(warning);
                    }
                }
            };
            loop {
                let n = match reader.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                };
                splitter.push(chunk.get(..n).unwrap_or_default(), &mut ranges);
                if ranges.is_empty() {
                    continue;
                }
                let at = Instant::now();
                let buffer = splitter.buffer();
                let lines: Vec<&[u8]> = ranges
                    .iter()
                    .filter_map(|r| buffer.get(r.clone()))
                    .collect();
                let in_force = regex.get();
                for line in &lines {
                    scan(in_force.as_deref(), line, at);
                }
                sink.lines(stream, &lines);
                splitter.consume(&ranges);
            }
            let rest = splitter.finish();
            if !rest.is_empty() {
                scan(regex.get().as_deref(), &rest, Instant::now());
                sink.lines(stream, &[&rest]);
            }
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut splitter = LineSplitter::default();
        let mut ranges = Vec::new();
        let mut lines = Vec::new();
        for chunk in chunks {
            splitter.push(chunk, &mut ranges);
            for r in &ranges {
                lines.push(splitter.buffer()[r.clone()].to_vec());
            }
            splitter.consume(&ranges);
        }
        let rest = splitter.finish();
        if !rest.is_empty() {
            lines.push(rest);
        }
        lines
    }

    #[test]
    fn lines_keep_their_terminators() {
        let lines = split(&[b"a\nb", b"c\r\nd\re", b"\n", b"tail"]);
        let expected: Vec<&[u8]> = vec![b"a\n", b"bc\r\n", b"d\r", b"e\n", b"tail"];
        assert_eq!(lines, expected);
    }

    #[test]
    fn a_carriage_return_at_a_chunk_end_waits_for_the_next_byte() {
        let lines = split(&[b"x\r", b"\ny\r", b"z"]);
        let expected: Vec<&[u8]> = vec![b"x\r\n", b"y\r", b"z"];
        assert_eq!(lines, expected);
    }

    #[test]
    fn very_long_lines_are_cut() {
        let long = vec![b'x'; MAX_LINE * 2 + 10];
        let lines = split(&[&long, b"\n"]);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].len(), MAX_LINE);
        assert_eq!(lines[1].len(), MAX_LINE);
        assert_eq!(lines[2], b"xxxxxxxxxx\n");
    }

    #[test]
    fn terminators_strip() {
        assert_eq!(strip_terminator(b"a\r\n"), b"a");
        assert_eq!(strip_terminator(b"a\r"), b"a");
        assert_eq!(strip_terminator(b"a"), b"a");
    }

    #[test]
    fn pump_scans_and_forwards_every_line() {
        struct Collect(std::sync::Mutex<Vec<u8>>);
        impl OutputSink for Collect {
            fn lines(&self, _: Stream, lines: &[&[u8]]) {
                let mut all = self.0.lock().unwrap();
                for l in lines {
                    all.extend_from_slice(l);
                }
            }
        }
        let sink = Arc::new(Collect(std::sync::Mutex::new(Vec::new())));
        let regex = Arc::new(
            RegexProgress::new(r"done (\d+)", super::super::progress::RegexKind::Units).unwrap(),
        );
        let input: &[u8] = b"start\ndone 3\ndone 4\nend";
        let pump = spawn_pump(
            input,
            Stream::Stdout,
            sink.clone(),
            RegexSlot::new(Some(regex.clone())),
            Arc::new(|_| {}),
        )
        .unwrap();
        pump.join().unwrap();
        assert_eq!(&*sink.0.lock().unwrap(), input);
        assert_eq!(regex.run_reading(Instant::now()).units, Some(7.0));
    }

    /// Reads what a channel sends, blocking between sends (a pipe that
    /// the test writes to while the pump reads).
    struct Chunks(std::sync::mpsc::Receiver<Vec<u8>>);

    impl Read for Chunks {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Ok(chunk) = self.0.recv() else {
                return Ok(0);
            };
            buf[..chunk.len()].copy_from_slice(&chunk);
            Ok(chunk.len())
        }
    }

    #[test]
    fn a_regex_swapped_in_counts_the_lines_after_it_only() {
        use super::super::progress::RegexKind;
        let (tx, rx) = std::sync::mpsc::channel();
        let first = Arc::new(RegexProgress::new(r"done (\d+)", RegexKind::Units).unwrap());
        let slot = RegexSlot::new(Some(Arc::clone(&first)));
        let pump = spawn_pump(
            Chunks(rx),
            Stream::Stdout,
            Arc::new(Discard),
            slot.clone(),
            Arc::new(|_| {}),
        )
        .unwrap();
        tx.send(b"done 3\nok 10\n".to_vec()).unwrap();
        let deadline = Instant::now() + std::time::Duration::from_secs(60);
        while first.run_reading(Instant::now()).matches == 0 {
            assert!(Instant::now() < deadline, "the first line was not read");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let second = Arc::new(RegexProgress::new(r"ok (\d+)", RegexKind::Units).unwrap());
        slot.swap(Some(Arc::clone(&second)));
        tx.send(b"done 4\nok 20\n".to_vec()).unwrap();
        drop(tx);
        pump.join().unwrap();
        // Neither counts the other's lines: the old one stopped at the swap,
        // the new one started there (the `ok 10` before it is not counted).
        assert_eq!(first.run_reading(Instant::now()).units, Some(3.0));
        assert_eq!(second.run_reading(Instant::now()).units, Some(20.0));
    }
}
