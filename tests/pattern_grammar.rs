//! The target-file grammar: what parses, and every error with its exact
//! line, column and message.

use speedbump::pattern::{PatternError, PatternSet, parse_pattern};

fn parse(text: &str) -> PatternSet {
    PatternSet::parse_file_text("t.txt", text).unwrap_or_else(|e| panic!("{e}"))
}

fn texts(set: &PatternSet) -> Vec<(u32, String, bool)> {
    set.lines()
        .map(|(line, p)| (line, p.text().to_owned(), p.is_exclude()))
        .collect()
}

fn error(text: &str) -> PatternError {
    match PatternSet::parse_file_text("t.txt", text) {
        Ok(set) => panic!("{text:?} parsed: {set:?}"),
        Err(e) => e,
    }
}

/// (line, column, message) of the first error in `text`.
fn at(text: &str) -> (u32, u32, String) {
    let e = error(text);
    (e.line, e.column, e.message)
}

#[test]
fn comments_blank_lines_and_whitespace_are_ignored() {
    let set = parse(
        "# numpy targets\n\n   \n\tnumpy.*:*   \n  # indented comment\nzmq.*:*\t# trailing comment\n*:*matmul* #x\n",
    );
    assert_eq!(
        texts(&set),
        vec![
            (4, "numpy.*:*".into(), false),
            (6, "zmq.*:*".into(), false),
            (7, "*:*matmul*".into(), false),
        ]
    );
}

#[test]
fn crlf_line_endings_and_byte_order_mark() {
    let set = parse("\u{FEFF}numpy.*:*\r\n# c\r\n!numpy.testing.*:*\r\n");
    assert_eq!(
        texts(&set),
        vec![
            (1, "numpy.*:*".into(), false),
            (3, "numpy.testing.*:*".into(), true)
        ]
    );
}

#[test]
fn exclude_patterns_keep_their_text_without_bang() {
    let p = parse_pattern("--pattern", "!numpy.testing.*:*").unwrap();
    assert!(p.is_exclude());
    assert_eq!(p.text(), "numpy.testing.*:*");
    let set = parse("a:*\n!b:*\nc:*\n");
    assert_eq!(
        set.includes().iter().map(|p| p.text()).collect::<Vec<_>>(),
        ["a:*", "c:*"]
    );
    assert_eq!(
        set.excludes().iter().map(|p| p.text()).collect::<Vec<_>>(),
        ["b:*"]
    );
}

#[test]
fn qualnames_with_angle_brackets_and_globs_with_classes() {
    for text in [
        "pkg.mod:f.<locals>.g",
        "pkg.mod:<lambda>",
        "pkg.mod:<module>",
        "pkg.mod:f.<locals>.<genexpr>",
        "pkg.mod_[0-9]:*",
        "pkg.[!_]*:*",
        "pkg.[^_]*:*",
        "pkg:[]]",
        "pkg:[!]]x",
        "pkg:[a-]",
        "pkg:[-a]",
        "pkg:[[]",
        "*/vllm/worker/*:*",
        "pkg:a]b",
        "pkg:!x",
    ] {
        let p = parse_pattern("--pattern", text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.text(), text.trim_start_matches('!'));
    }
}

#[test]
fn empty_and_comment_only_files_parse_to_an_empty_set() {
    for text in [
        "",
        "\n\n",
        "# only a comment\n   # another\n",
        "!numpy.*:*\n",
    ] {
        let set = parse(text);
        assert!(set.is_empty(), "{text:?}");
    }
    assert_eq!(parse("!numpy.*:*\n").lines().count(), 1);
}

#[test]
fn missing_colon() {
    let expected = "expected ':' between the module glob and the function glob (e.g. 'numpy.*:*')";
    assert_eq!(at("numpy.*"), (1, 8, expected.into()));
    assert_eq!(at("# c\n  numpy.* # c\n"), (2, 10, expected.into()));
    assert_eq!(at("!numpy\n"), (1, 7, expected.into()));
}

#[test]
fn empty_globs() {
    assert_eq!(
        at(":main"),
        (
            1,
            1,
            "empty module glob before ':'; write '*' for any module (e.g. '*:main')".into()
        )
    );
    assert_eq!(at("ok:*\n  !:main").0, 2);
    assert_eq!(at("ok:*\n  !:main").1, 4);
    let empty_function =
        "empty function glob after ':'; write '*' for every function (e.g. 'numpy.linalg:*')";
    assert_eq!(at("numpy.linalg:"), (1, 14, empty_function.into()));
    assert_eq!(at("numpy.linalg:   # c"), (1, 14, empty_function.into()));
    assert_eq!(at("numpy.linalg:#c"), (1, 14, empty_function.into()));
}

#[test]
fn second_colon() {
    let message = "a second ':'; only one ':' separates module and function, use '.' inside names (e.g. 'pkg.mod:Class.method')";
    assert_eq!(at("pkg:mod:func"), (1, 8, message.into()));
    assert_eq!(at("numpy::dot"), (1, 7, message.into()));
}

#[test]
fn whitespace_inside_and_text_after() {
    let inside = "whitespace inside a pattern; one pattern per line";
    assert_eq!(at("numpy .*:*"), (1, 6, inside.into()));
    assert_eq!(at("numpy.* :*"), (1, 8, inside.into()));
    assert_eq!(at("numpy: *"), (1, 7, inside.into()));
    assert_eq!(
        at("numpy.*:* zmq.*:*"),
        (
            1,
            11,
            "unexpected text after the pattern; write one pattern per line, and start a comment with '#'"
                .into()
        )
    );
    assert_eq!(
        at("! numpy.*:*"),
        (
            1,
            2,
            "'!' must be followed directly by the pattern to exclude (e.g. '!numpy.testing.*:*')"
                .into()
        )
    );
    assert_eq!(at("!").1, 2);
}

#[test]
fn hash_inside_a_pattern() {
    let message =
        "'#' inside a pattern; put whitespace before a trailing comment (e.g. 'numpy.*:*  # note')";
    assert_eq!(at("numpy.*:*# note"), (1, 10, message.into()));
    assert_eq!(at("numpy#x:*"), (1, 6, message.into()));
}

#[test]
fn character_class_errors() {
    let unclosed = "unclosed '[' character class; close it with ']' (e.g. '[a-z]'), or write '[[]' for a literal '['";
    assert_eq!(at("pkg.[a-z:*"), (1, 5, unclosed.into()));
    assert_eq!(at("pkg:f[abc"), (1, 6, unclosed.into()));
    assert_eq!(at("pkg:f[]"), (1, 6, unclosed.into()));
    assert_eq!(at("pkg:f[!]"), (1, 6, unclosed.into()));
    assert_eq!(at("pkg:[a b]"), (1, 5, unclosed.into()));
    assert_eq!(
        at("pkg:[xz-a]"),
        (
            1,
            7,
            "range 'z-a' in a character class is backwards; write the lower character first ('a-z')"
                .into()
        )
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    // 'é' and '漢' are one column each; the tab is one column.
    assert_eq!(at("\tmodé漢 x:*").1, 7);
    let e = error("\tmodé漢 x:*");
    assert_eq!(
        e.to_string(),
        "t.txt:1:7: whitespace inside a pattern; one pattern per line\n  1 |     modé漢 x:*\n    |           ^"
    );
}

#[test]
fn first_error_wins_and_all_errors_can_be_listed() {
    let text = "ok:*\nbad\nalso bad:*\n";
    assert_eq!(at(text).0, 2);
    let errors = PatternSet::parse_file_text_all("t.txt", text).unwrap_err();
    assert_eq!(
        errors
            .iter()
            .map(|e| (e.line, e.column))
            .collect::<Vec<_>>(),
        [(2, 4), (3, 5)]
    );
}

#[test]
fn one_line_and_display() {
    let e = error("# targets\nnumpy.*\n");
    assert_eq!(
        e.one_line(),
        "t.txt:2:8: expected ':' between the module glob and the function glob (e.g. 'numpy.*:*')"
    );
    assert_eq!(
        e.to_string(),
        "t.txt:2:8: expected ':' between the module glob and the function glob (e.g. 'numpy.*:*')\n  2 | numpy.*\n    |        ^"
    );
}

#[test]
fn single_patterns() {
    let e = parse_pattern("--pattern", "  ").unwrap_err();
    assert_eq!(
        e.one_line(),
        "--pattern:1:1: empty pattern; write 'module_glob:function_glob' (e.g. 'numpy.*:*')"
    );
    let e = parse_pattern("SPEED_BUMP_TARGETS", "numpy").unwrap_err();
    assert_eq!(
        e.one_line(),
        "SPEED_BUMP_TARGETS:1:6: expected ':' between the module glob and the function glob (e.g. 'numpy.*:*')"
    );
    assert_eq!(parse_pattern("p", "a:b  # why").unwrap().text(), "a:b");
}

#[test]
fn unreadable_and_non_utf8_files() {
    let dir =
        std::env::temp_dir().join(format!("speedbump-pattern-grammar-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("missing.txt");
    let e = PatternSet::load(&missing).unwrap_err();
    assert_eq!((e.line, e.column), (0, 0));
    assert_eq!(
        e.one_line(),
        format!(
            "{}: cannot read: No such file or directory",
            missing.display()
        )
    );
    assert_eq!(e.to_string(), e.one_line());

    let latin1 = dir.join("latin1.txt");
    std::fs::write(&latin1, b"ok:*\nmod\xe9:*\n").unwrap();
    let e = PatternSet::load(&latin1).unwrap_err();
    assert_eq!((e.line, e.column), (2, 4));
    assert_eq!(e.message, "not valid UTF-8; save the file as UTF-8");
    assert_eq!(e.line_text, "mod\u{FFFD}:*");

    let good = dir.join("good.txt");
    std::fs::write(&good, "numpy.*:*\n").unwrap();
    assert_eq!(PatternSet::load(&good).unwrap().includes().len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_control_character_in_a_pattern_is_refused_and_not_echoed_raw() {
    let (line, column, message) = at("numpy:*\nmod\0ule:f\n");
    assert_eq!((line, column), (2, 4));
    assert!(message.contains("control character U+0000"), "{message}");
    let shown = error("mod\0ule:f\n").to_string();
    assert!(!shown.contains('\0'), "{shown:?}");
    assert!(parse_pattern("SPEED_BUMP_LATENCY", "a:\u{1b}[31mf").is_err());
    // In a comment it is harmless.
    assert_eq!(texts(&parse("# \0\nm:f\n")).len(), 1);
}
