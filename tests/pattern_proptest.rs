//! Properties: arbitrary input never panics and errors point inside it;
//! globs built from literal text match exactly that text.

use proptest::prelude::*;
use speedbump::pattern::{PatternSet, parse_pattern};

/// Characters that exercise every branch of the grammar, mixed with any char.
fn tricky_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::sample::select(vec![
            '*', '?', '[', ']', '!', '^', '-', ':', '#', '.', '/', '<', '>', ' ', '\t', '\r',
            '\n', 'a', 'Z', '_', '0', 'é', '漢',
        ]),
        1 => any::<char>(),
    ]
}

fn tricky_text() -> impl Strategy<Value = String> {
    prop::collection::vec(tricky_char(), 0..60).prop_map(|chars| chars.into_iter().collect())
}

/// Checks that an error's position lies inside `text`.
fn assert_inside(text: &str, line: u32, column: u32, line_text: &str) -> Result<(), TestCaseError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let lines: Vec<&str> = text.split('\n').collect();
    prop_assert!(line >= 1 && (line as usize) <= lines.len(), "line {line}");
    let raw = lines[line as usize - 1];
    let expected = raw.strip_suffix('\r').unwrap_or(raw);
    prop_assert_eq!(line_text, expected);
    let chars = expected.chars().count() as u32;
    prop_assert!(
        column >= 1 && column <= chars + 1,
        "column {column} of {chars}"
    );
    Ok(())
}

/// A glob that matches `s` literally: wildcard characters inside classes.
fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '*' | '?' | '[' => format!("[{c}]"),
            c => c.to_string(),
        })
        .collect()
}

/// Text that can appear in a glob: no whitespace, ':', '#' or control
/// character (refused: no module or function name holds one).
fn glob_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        tricky_char().prop_filter("not allowed in a glob", |c| {
            !c.is_whitespace() && !c.is_control() && *c != ':' && *c != '#'
        }),
        1..20,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_file_text_parses_or_points_inside_it(text in tricky_text()) {
        match PatternSet::parse_file_text("f", &text) {
            Ok(set) => prop_assert!(set.lines().count() <= text.split('\n').count()),
            Err(e) => {
                prop_assert!(!e.message.is_empty());
                assert_inside(&text, e.line, e.column, &e.line_text)?;
                // Rendering with the caret must not panic either.
                prop_assert!(e.to_string().starts_with(&e.one_line()));
            }
        }
    }

    #[test]
    fn arbitrary_unicode_never_panics(text in any::<String>()) {
        if let Err(e) = PatternSet::parse_file_text("f", &text) {
            assert_inside(&text, e.line, e.column, &e.line_text)?;
        }
        if let Ok(p) = parse_pattern("p", &text) {
            let _ = p.describe();
            let _ = p.matches(&text, &text, &text);
        }
    }

    #[test]
    fn literal_globs_match_exactly_their_text(s in glob_text(), other in glob_text()) {
        // '!' at the start would make an exclude; a module-side trailing ".*" would
        // add the package rule: test the qualname side, which has no such rule.
        let p = parse_pattern("p", &format!("m:{}", escape(&s))).unwrap();
        prop_assert!(p.matches("m", "", &s));
        if other != s {
            prop_assert!(!p.matches("m", "", &other));
        }
        let (appended, prepended) = (format!("{s}x"), format!("x{s}"));
        prop_assert!(!p.matches("m", "", &appended));
        prop_assert!(!p.matches("m", "", &prepended));
        let mut shorter = s.clone();
        shorter.pop();
        prop_assert!(!p.matches("m", "", &shorter));

        // Module side (a '/' makes it a path glob: pass the name as both).
        let name = format!("x{s}");
        let longer = format!("x{s}y");
        let module = parse_pattern("p", &format!("{}:*", escape(&name))).unwrap();
        prop_assert!(module.matches(&name, &name, "f"));
        prop_assert!(!module.matches(&longer, &longer, "f"));
    }

    #[test]
    fn star_prefix_and_suffix(s in glob_text(), before in glob_text(), after in glob_text()) {
        let suffix = parse_pattern("p", &format!("m:*{}", escape(&s))).unwrap();
        let prefix = parse_pattern("p", &format!("m:{}*", escape(&s))).unwrap();
        let contains = parse_pattern("p", &format!("m:*{}*", escape(&s))).unwrap();
        let (ends, starts, inside) = (format!("{before}{s}"), format!("{s}{after}"), format!("{before}{s}{after}"));
        prop_assert!(suffix.matches("m", "", &ends));
        prop_assert!(prefix.matches("m", "", &starts));
        prop_assert!(contains.matches("m", "", &inside));
        prop_assert_eq!(suffix.matches("m", "", &after), after.ends_with(&s));
        prop_assert_eq!(prefix.matches("m", "", &before), before.starts_with(&s));
        prop_assert_eq!(contains.matches("m", "", &before), before.contains(&s));
    }
}
