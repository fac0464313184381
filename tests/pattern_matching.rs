//! What patterns match, how a set decides, and the suggestions for
//! patterns that matched nothing.

use speedbump::pattern::{Pattern, PatternSet, parse_pattern, suggest_relaxation};

fn pattern(text: &str) -> Pattern {
    parse_pattern("test", text).unwrap_or_else(|e| panic!("{e}"))
}

/// Matches a module name and qualname (file name irrelevant).
fn m(text: &str, module: &str, qualname: &str) -> bool {
    pattern(text).matches(module, "/nowhere.py", qualname)
}

#[test]
fn everything() {
    assert!(m("*:*", "numpy", "dot"));
    assert!(m("*:*", "", ""));
}

#[test]
fn module_globs_match_the_whole_dotted_name() {
    assert!(m("numpy.core:*", "numpy.core", "f"));
    assert!(!m("numpy.core:*", "numpy.core.multiarray", "f"));
    assert!(!m("numpy.core:*", "numpy", "f"));
    assert!(m(
        "transformers.modeling_*:*",
        "transformers.modeling_llama",
        "f"
    ));
    assert!(m(
        "transformers.modeling_*:*",
        "transformers.modeling_a.b",
        "f"
    ));
    assert!(!m("transformers.modeling_*:*", "transformers.models", "f"));
    assert!(!m("Numpy.*:*", "numpy.core", "f"), "case-sensitive");
}

#[test]
fn trailing_dot_star_also_matches_the_package() {
    assert!(m("vllm.*:*", "vllm", "f"));
    assert!(m("vllm.*:*", "vllm.worker", "f"));
    assert!(m("vllm.*:*", "vllm.worker.model_runner", "f"));
    assert!(!m("vllm.*:*", "vllmx", "f"));
    assert!(!m("vllm.*:*", "vllm_ext.a", "f"));
    assert!(m("vllm.w*.*:*", "vllm.worker", "f"));
    // Only for module globs: a qualname glob 'Foo.*' means methods, not the class body.
    assert!(!m("*:Foo.*", "m", "Foo"));
    assert!(m("*:Foo.*", "m", "Foo.bar"));
}

#[test]
fn mp_main_counts_as_main() {
    assert!(m("__main__:*", "__main__", "main"));
    assert!(m("__main__:*", "__mp_main__", "main"));
    assert!(m("__mp_main__:*", "__mp_main__", "main"));
    assert!(!m("__mp_main__:*", "__main__", "main"));
    assert!(m("__*:*", "__mp_main__", "main"));
    assert!(!m("__main__:*", "__main__x", "main"));
}

#[test]
fn path_globs_match_the_file_name() {
    let p = pattern("*/vllm/worker/*:*");
    assert!(p.matches_path());
    assert!(!pattern("vllm.worker:*").matches_path());
    assert!(p.matches(
        "anything",
        "/venv/lib/python3.12/site-packages/vllm/worker/model_runner.py",
        "f"
    ));
    assert!(!p.matches("vllm.worker.model_runner", "/src/vllm/engine/x.py", "f"));
    assert!(pattern("/srv/app.py:main").matches("__main__", "/srv/app.py", "main"));
}

#[test]
fn qualname_globs() {
    assert!(m("*:*matmul*", "m", "Foo.matmul_impl"));
    assert!(m("*:*matmul*", "m", "matmul"));
    assert!(!m("*:*matmul*", "m", "Foo.matmu"));
    assert!(m(
        "vllm.worker.model_runner:ModelRunner.execute_model",
        "vllm.worker.model_runner",
        "ModelRunner.execute_model"
    ));
    assert!(m("m:f.<locals>.g", "m", "f.<locals>.g"));
    assert!(m("m:*.<locals>.*", "m", "outer.<locals>.inner"));
    assert!(m("m:<lambda>", "m", "<lambda>"));
    assert!(!m("m:<lambda>", "m", "f.<locals>.<lambda>"));
    assert!(m("m:*<lambda>", "m", "f.<locals>.<lambda>"));
}

#[test]
fn question_marks_and_classes() {
    assert!(m("m:f?", "m", "f1"));
    assert!(!m("m:f?", "m", "f"));
    assert!(!m("m:f?", "m", "f12"));
    assert!(m("m:f?", "m", "fé"));
    assert!(m("m:step_[0-9]", "m", "step_7"));
    assert!(!m("m:step_[0-9]", "m", "step_x"));
    assert!(m("m:[!_]*", "m", "public"));
    assert!(!m("m:[!_]*", "m", "_private"));
    assert!(!m("m:[^_]*", "m", "_private"));
    assert!(m("m:[]]", "m", "]"));
    assert!(m("m:[!]]", "m", "x"));
    assert!(!m("m:[!]]", "m", "]"));
    assert!(m("m:[a-]", "m", "-"));
    assert!(m("m:[[]", "m", "["));
    assert!(m("m:[*?]", "m", "*"));
    assert!(!m("m:[*?]", "m", "x"));
    assert!(m("m:[a-cx]", "m", "x"));
    assert!(m("m:a]b", "m", "a]b"));
}

#[test]
fn decide_returns_the_first_matching_include() {
    let set = PatternSet::parse_file_text("t", "numpy.*:*\n*:*dot*\n*:*\n").unwrap();
    assert_eq!(set.decide("numpy.linalg", "", "dot"), Some(0));
    assert_eq!(set.decide("scipy", "", "dot"), Some(1));
    assert_eq!(set.decide("scipy", "", "solve"), Some(2));
}

#[test]
fn any_exclude_wins_wherever_it_stands() {
    let set =
        PatternSet::parse_file_text("t", "!numpy.testing.*:*\nnumpy.*:*\n!*:_*\n*:*matmul*\n")
            .unwrap();
    assert_eq!(set.decide("numpy.core", "", "dot"), Some(0));
    assert_eq!(set.decide("numpy.testing", "", "dot"), None);
    assert_eq!(set.decide("numpy.testing.utils", "", "dot"), None);
    assert_eq!(set.decide("numpy.core", "", "_private"), None);
    assert_eq!(set.decide("torch", "", "matmul"), Some(1));
    assert_eq!(set.decide("torch", "", "_matmul"), None);
    assert_eq!(set.decide("torch", "", "add"), None);
}

#[test]
fn empty_sets_decide_nothing() {
    let only_excludes = PatternSet::parse_file_text("t", "!numpy.*:*\n").unwrap();
    assert!(only_excludes.is_empty());
    assert_eq!(only_excludes.decide("x", "", "y"), None);
    assert!(PatternSet::from_patterns(vec![]).is_empty());
}

#[test]
fn from_patterns_numbers_lines_in_order() {
    let set = PatternSet::from_patterns(vec![pattern("a:*"), pattern("!b:*"), pattern("c:*")]);
    assert_eq!(
        set.lines()
            .map(|(line, p)| (line, p.text()))
            .collect::<Vec<_>>(),
        [(1, "a:*"), (2, "b:*"), (3, "c:*")]
    );
    assert_eq!(set.includes().len(), 2);
    assert_eq!(set.excludes().len(), 1);
    assert_eq!(set.decide("b", "", "f"), None);
    assert_eq!(set.decide("c", "", "f"), Some(1));
}

/// Functions seen in a run: (module, filename, qualname).
const SEEN: &[(&str, &str, &str)] = &[
    (
        "vllm.worker.model_runner",
        "/v/vllm/worker/model_runner.py",
        "ModelRunner.execute_model",
    ),
    (
        "vllm.worker.model_runner",
        "/v/vllm/worker/model_runner.py",
        "ModelRunner.__init__",
    ),
    (
        "vllm.worker.worker",
        "/v/vllm/worker/worker.py",
        "Worker.execute_model",
    ),
    (
        "vllm.engine.llm_engine",
        "/v/vllm/engine/llm_engine.py",
        "LLMEngine.step",
    ),
    ("numpy.core.numeric", "/n/numpy/core/numeric.py", "dot"),
    ("numpy", "/n/numpy/__init__.py", "<module>"),
    ("torch.functional", "/t/torch/functional.py", "matmul_impl"),
];

fn suggest(text: &str) -> Option<(String, usize)> {
    suggest_relaxation(&pattern(text), SEEN.iter().copied())
}

#[test]
fn suggests_the_package_for_a_module() {
    assert_eq!(
        suggest("vllm.worker:*"),
        Some(("vllm.worker.*:*".into(), 3))
    );
}

#[test]
fn suggests_methods_for_a_class_name_then_substrings() {
    assert_eq!(
        suggest("vllm.worker.model_runner:ModelRunner"),
        Some(("vllm.worker.model_runner:ModelRunner.*".into(), 2))
    );
    assert_eq!(
        suggest("vllm.worker.model_runner:execute"),
        Some(("vllm.worker.model_runner:*execute*".into(), 1))
    );
    assert_eq!(
        suggest("torch.functional:matmul"),
        Some(("torch.functional:*matmul*".into(), 1))
    );
}

#[test]
fn suggests_the_correct_case() {
    assert_eq!(suggest("Numpy.*:*"), Some(("numpy.*:*".into(), 2)));
    assert_eq!(
        suggest("vllm.engine.llm_engine:llmengine.step"),
        Some(("vllm.engine.llm_engine:LLMEngine.step".into(), 1))
    );
}

#[test]
fn suggests_a_package_prefix_then_any_module() {
    assert_eq!(
        suggest("worker.model_runner:*"),
        Some(("*.worker.model_runner:*".into(), 2))
    );
    assert_eq!(suggest("vllm.work:*"), Some(("vllm.work*:*".into(), 3)));
    assert_eq!(
        suggest("vllm.executor:LLMEngine.step"),
        Some(("*:LLMEngine.step".into(), 1))
    );
    assert_eq!(
        suggest("vllm/worker/*:*"),
        Some(("*/vllm/worker/*:*".into(), 3))
    );
}

#[test]
fn no_suggestion_when_it_matches_or_nothing_would() {
    assert_eq!(suggest("numpy.*:*"), None);
    assert_eq!(suggest("scipy.*:*"), None);
    assert_eq!(
        suggest_relaxation(&pattern("a:b"), std::iter::empty()),
        None
    );
}

#[test]
fn exclude_suggestions_keep_the_bang() {
    assert_eq!(
        suggest("!vllm.worker:*"),
        Some(("!vllm.worker.*:*".into(), 3))
    );
}

#[test]
fn the_module_index_decides_as_the_first_matching_pattern_in_the_file() {
    // Literal module names are indexed, wildcards and paths are not: the
    // decision must still be the first matching include in file order.
    let text =
        "pkg.*:run\nmod1:f\n*:g\nmod1:*\n__main__:main\n*/tools/*.py:*\nmod2:h\n!mod1:skip\n";
    let set = PatternSet::parse_file_text("t", text).unwrap();
    let linear = |module: &str, filename: &str, qualname: &str| {
        let index = set
            .includes()
            .iter()
            .position(|p| p.matches(module, filename, qualname))?;
        let excluded = set
            .excludes()
            .iter()
            .any(|p| p.matches(module, filename, qualname));
        (!excluded).then_some(index)
    };
    let cases = [
        ("mod1", "/a/mod1.py", "f"),
        ("mod1", "/a/mod1.py", "g"),
        ("mod1", "/a/mod1.py", "other"),
        ("mod1", "/a/mod1.py", "skip"),
        ("pkg", "/a/pkg/__init__.py", "run"),
        ("pkg.sub", "/a/pkg/sub.py", "run"),
        ("mod2", "/a/mod2.py", "h"),
        ("mod2", "/a/mod2.py", "g"),
        ("mod3", "/x/tools/t.py", "h"),
        ("__main__", "/a/main.py", "main"),
        ("__mp_main__", "/a/main.py", "main"),
        ("__mp_main__", "/a/main.py", "g"),
        ("nothing", "/a/n.py", "x"),
    ];
    for (module, filename, qualname) in cases {
        assert_eq!(
            set.decide(module, filename, qualname),
            linear(module, filename, qualname),
            "{module}:{qualname}"
        );
    }
    assert_eq!(set.decide("mod1", "", "g"), Some(1 + 1));
    assert_eq!(set.decide("__mp_main__", "", "main"), Some(4));
}

#[test]
fn a_hundred_thousand_literal_patterns_decide_without_scanning_them_all() {
    let mut text: String = (0..100_000)
        .map(|i| format!("mod{i}.sub:func_{i}\n"))
        .collect();
    text.push_str("__main__:f\n");
    let set = PatternSet::parse_file_text("t", &text).unwrap();
    assert_eq!(set.decide("mod77.sub", "", "func_77"), Some(77));
    assert_eq!(set.decide("mod77.sub", "", "func_78"), None);
    assert_eq!(set.decide("__main__", "", "f"), Some(100_000));
    // Deciding every one of 20,000 functions looks only at its module's
    // patterns: well under a second even unoptimised on a busy machine (a
    // scan of all 100,000 per function took minutes).
    let start = std::time::Instant::now();
    for i in 0..20_000 {
        assert_eq!(
            set.decide(&format!("mod{i}.sub"), "", &format!("func_{i}")),
            Some(i)
        );
    }
    assert!(
        start.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}
