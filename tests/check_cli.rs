//! `speedbump check` as a user runs it: exact output and exit status for
//! valid, empty, invalid and missing target files.

use std::path::Path;
use std::process::Command;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `speedbump check PATH` from the package root, so fixture paths (and
/// therefore the output) are relative and stable.
fn check(path: &str) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_speedbump"))
        .args(["check", path])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("run speedbump");
    Run {
        code: output.status.code().expect("exit status"),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

const FIXTURES: &str = "tests/fixtures/patterns";

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

#[test]
fn valid_file_prints_each_line_and_a_summary() {
    let run = check(&fixture("valid.txt"));
    assert_eq!(run.stderr, "");
    assert_eq!(
        run.stdout,
        "\
line  pattern                                             kind     meaning
   2  numpy.*:*                                           include  every function in package 'numpy' and its submodules
   3  !numpy.testing.*:*                                  exclude  every function in package 'numpy.testing' and its submodules
   5  *:*matmul*                                          include  functions whose qualified name contains 'matmul' in any module
   6  vllm.worker.model_runner:ModelRunner.execute_model  include  function 'ModelRunner.execute_model' in module 'vllm.worker.model_runner'
   7  */vllm/worker/*:*                                   include  every function in files whose path contains '/vllm/worker/'
4 include patterns, 1 exclude
"
    );
    assert_eq!(run.code, 0);
}

#[test]
fn comments_only_file_warns_that_it_matches_nothing() {
    let run = check(&fixture("comments_only.txt"));
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "speedbump: warning: tests/fixtures/patterns/comments_only.txt has no include pattern, \
         so it matches nothing; add one per line (e.g. 'numpy.*:*')\n"
    );
    assert_eq!(run.code, 1);
}

#[test]
fn excludes_only_file_lists_them_and_warns() {
    let run = check(&fixture("excludes_only.txt"));
    assert_eq!(
        run.stdout,
        "\
line  pattern             kind     meaning
   1  !numpy.testing.*:*  exclude  every function in package 'numpy.testing' and its submodules
0 include patterns, 1 exclude
"
    );
    assert!(
        run.stderr
            .contains("has no include pattern, so it matches nothing")
    );
    assert_eq!(run.code, 1);
}

#[test]
fn invalid_file_shows_the_error_with_a_caret() {
    let run = check(&fixture("missing_colon.txt"));
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "\
tests/fixtures/patterns/missing_colon.txt:3:12: expected ':' between the module glob and the function glob (e.g. 'numpy.*:*')
  3 | vllm.engine
    |            ^
"
    );
    assert_eq!(run.code, 2);
}

#[test]
fn caret_lines_up_after_a_tab_and_wide_characters() {
    let run = check(&fixture("whitespace_tab.txt"));
    assert_eq!(
        run.stderr,
        "\
tests/fixtures/patterns/whitespace_tab.txt:2:7: whitespace inside a pattern; one pattern per line
  2 |     modé漢 x:*
    |           ^
"
    );
    assert_eq!(run.code, 2);
}

#[test]
fn every_error_in_the_file_is_listed() {
    let run = check(&fixture("several_errors.txt"));
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "\
tests/fixtures/patterns/several_errors.txt:2:5: unclosed '[' character class; close it with ']' (e.g. '[a-z]'), or write '[[]' for a literal '['
  2 | pkg.[a-z:*
    |     ^

tests/fixtures/patterns/several_errors.txt:3:11: unexpected text after the pattern; write one pattern per line, and start a comment with '#'
  3 | numpy.*:* zmq.*:*
    |           ^

2 errors
"
    );
    assert_eq!(run.code, 2);
}

#[test]
fn missing_file_is_one_clear_line() {
    let run = check(&fixture("does_not_exist.txt"));
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "tests/fixtures/patterns/does_not_exist.txt: cannot read: No such file or directory\n"
    );
    assert_eq!(run.code, 2);
}

#[test]
fn directory_is_not_a_target_file() {
    let run = check(FIXTURES);
    assert_eq!(
        run.stderr,
        "tests/fixtures/patterns: cannot read: not a regular file (a directory, FIFO or device); \
         keep target files in a directory of your own (e.g. ~/speedbump-targets.txt), not in /tmp\n"
    );
    assert_eq!(run.code, 2);
}

#[test]
fn crlf_file_is_valid() {
    // Written at test time: a checked-in CRLF file could be normalised by git.
    let dir = std::env::temp_dir().join(format!("speedbump-check-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("crlf.txt");
    std::fs::write(&path, "# windows\r\nzmq.*:*\r\n").unwrap();
    let run = check(path.to_str().unwrap());
    assert_eq!(
        run.stdout,
        "\
line  pattern  kind     meaning
   2  zmq.*:*  include  every function in package 'zmq' and its submodules
1 include pattern, 0 excludes
"
    );
    assert_eq!(run.code, 0);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!Path::new(&dir).exists());
}

#[test]
fn help_shows_an_example() {
    let output = Command::new(env!("CARGO_BIN_EXE_speedbump"))
        .args(["check", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    assert!(help.contains("speedbump check targets.txt"), "{help}");
    assert!(help.contains("Exit status: 0 valid, 1 matches nothing, 2 invalid or unreadable."));
    assert_eq!(output.status.code(), Some(0));
}

/// A pattern of 65,536 characters or more used to panic (padding widths
/// must fit in a u16).
#[test]
fn a_very_long_pattern_is_explained_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.txt");
    std::fs::write(&path, format!("{}:*\n", "a".repeat(70_000))).unwrap();
    let run = check(path.to_str().unwrap());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(run.stdout.contains("1 include pattern"), "{}", run.stdout);
}
