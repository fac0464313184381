//! "Did you mean": for a pattern that matched none of the functions a run
//! saw, a relaxed pattern that would have matched some.
//!
//! The most common mistakes, from docs/methodology.md's own examples: a package
//! written as a module (`vllm.worker:*` when the code lives in
//! `vllm.worker.model_runner`), a class name where its methods were meant
//! (`m:ModelRunner`), the wrong case (`Numpy.*`), and a module path missing
//! its top-level package (`worker.model_runner:*`).

use super::{Pattern, parse_pattern};

/// For a pattern that matched nothing: a relaxed pattern that would have
/// matched some of the functions seen (`(module, filename, qualname)`), with
/// how many.
///
/// Candidates are tried from the most specific to the least, and the first
/// that matches at least one function wins:
/// 1. module `M` -> `M.*` (the package and its submodules);
/// 2. qualname `Q` -> `Q.*` (a class's methods; only if `Q` has no
///    wildcard), then `*Q*`;
/// 3. the same pattern with the case of its literal prefixes corrected from
///    a function it matches ignoring case (`Numpy.*` -> `numpy.*`);
///    then, for a literal qualname, the nearest name seen in the pattern's
///    modules when it is a typo away (`m:score_txt` -> `m:score_text`);
/// 4. the module and qualname relaxations of 1 and 2 together;
/// 5. module `*.M`, then `M*` (for a path glob `*/M`, then `M*`);
/// 6. finally `*:Q` (never `*:*`, which would say nothing).
///
/// Returns `None` if the pattern already matches something, or if no
/// candidate does. An exclude pattern's suggestion keeps its `!`.
pub fn suggest_relaxation<'a>(
    pattern: &Pattern,
    seen: impl Iterator<Item = (&'a str, &'a str, &'a str)> + Clone,
) -> Option<(String, usize)> {
    let count = |p: &Pattern| {
        seen.clone()
            .filter(|&(module, filename, qualname)| p.matches(module, filename, qualname))
            .count()
    };
    if count(pattern) > 0 {
        return None;
    }
    let bang = if pattern.is_exclude() { "!" } else { "" };
    let mut tried = vec![pattern.text().to_owned()];
    for (module, qualname) in candidates(pattern, seen.clone()) {
        let text = format!("{module}:{qualname}");
        if tried.contains(&text) {
            continue;
        }
        let Ok(candidate) = parse_pattern("suggestion", &text) else {
            continue;
        };
        let matched = count(&candidate);
        if matched > 0 {
            return Some((format!("{bang}{text}"), matched));
        }
        tried.push(text);
    }
    None
}

/// `(module glob, qualname glob)` candidates, most specific first.
fn candidates<'a>(
    pattern: &Pattern,
    seen: impl Iterator<Item = (&'a str, &'a str, &'a str)> + Clone,
) -> Vec<(String, String)> {
    let module = pattern.module_text.as_str();
    let qualname = pattern.qualname_text.as_str();
    let tree =
        |m: &str| (!pattern.by_path && !m.ends_with(".*") && m != "*").then(|| format!("{m}.*"));
    let module_tree = tree(module);

    let mut relaxed_qualnames = Vec::new();
    if pattern.qualname.is_literal() {
        relaxed_qualnames.push(format!("{qualname}.*"));
    }
    if qualname != "*" {
        relaxed_qualnames.push(format!("*{}*", qualname.trim_matches('*')));
    }

    let mut out = Vec::new();
    if let Some(m) = &module_tree {
        out.push((m.clone(), qualname.to_owned()));
    }
    for q in &relaxed_qualnames {
        out.push((module.to_owned(), q.clone()));
    }
    if let Some((fixed_module, fixed_qualname)) = case_fixed(pattern, seen.clone()) {
        if let Some(m) = tree(&fixed_module) {
            out.push((fixed_module.clone(), fixed_qualname.clone()));
            out.push((m, fixed_qualname));
        } else {
            out.push((fixed_module, fixed_qualname));
        }
    }
    if let Some(near) = nearest_name(pattern, seen.clone()) {
        out.push((module.to_owned(), near));
    }
    if let Some(m) = &module_tree {
        for q in &relaxed_qualnames {
            out.push((m.clone(), q.clone()));
        }
    }
    if !module.starts_with('*') {
        let anywhere = if pattern.by_path {
            format!("*/{}", module.trim_start_matches('/'))
        } else {
            format!("*.{module}")
        };
        out.push((anywhere, qualname.to_owned()));
    }
    if !module.ends_with('*') {
        out.push((format!("{module}*"), qualname.to_owned()));
    }
    // `*:*` matches everything and so suggests nothing useful.
    if qualname != "*" {
        out.push(("*".to_owned(), qualname.to_owned()));
    }
    out
}

/// For a literal qualname: the seen qualname in the pattern's modules
/// nearest to it by edit distance, when that is a typo away (at most a third
/// of its length, and at least one edit); the nearest first, ties by name.
fn nearest_name<'a>(
    pattern: &Pattern,
    seen: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
) -> Option<String> {
    if !pattern.qualname.is_literal() {
        return None;
    }
    let wanted = pattern.qualname_text.as_str();
    let modules = parse_pattern("suggestion", &format!("{}:*", pattern.module_text)).ok()?;
    let limit = (wanted.chars().count() / 3).max(1);
    seen.filter(|&(m, f, q)| q != "<module>" && modules.matches(m, f, q))
        .map(|(_, _, q)| (strsim::levenshtein(wanted, q), q))
        .filter(|&(d, _)| d > 0 && d <= limit)
        .min()
        .map(|(_, q)| q.to_owned())
}

/// The pattern with the case of its literal prefixes taken from the first
/// seen function it matches when case is ignored.
fn case_fixed<'a>(
    pattern: &Pattern,
    mut seen: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
) -> Option<(String, String)> {
    let (module, filename, qualname) =
        seen.find(|&(m, f, q)| pattern.matches_with(m, f, q, true))?;
    let module_name = if pattern.by_path { filename } else { module };
    Some((
        fix_case(&pattern.module_text, module_name),
        fix_case(&pattern.qualname_text, qualname),
    ))
}

/// `glob` with the case of each character before its first wildcard taken
/// from `name`, while the two agree ignoring ASCII case.
fn fix_case(glob: &str, name: &str) -> String {
    let mut name_chars = name.chars();
    let mut in_prefix = true;
    glob.chars()
        .map(|c| {
            in_prefix = in_prefix && !matches!(c, '*' | '?' | '[');
            match name_chars.next() {
                Some(n) if in_prefix && n.eq_ignore_ascii_case(&c) => n,
                _ => {
                    in_prefix = false;
                    c
                }
            }
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_in_a_function_name_suggests_the_name_that_ran() {
        let seen = [
            ("__main__", "", "score_text"),
            ("__main__", "", "parse_event"),
            ("other", "", "score_txt2"),
        ];
        let pattern = parse_pattern("t", "__main__:score_txt").unwrap();
        assert_eq!(
            suggest_relaxation(&pattern, seen.iter().copied()),
            Some(("__main__:score_text".to_owned(), 1))
        );
        // Nothing near enough: no suggestion from this rule.
        let far = parse_pattern("t", "__main__:render").unwrap();
        assert_eq!(suggest_relaxation(&far, seen.iter().copied()), None);
    }

    #[test]
    fn fix_case_stops_at_the_first_wildcard_or_difference() {
        assert_eq!(fix_case("Numpy.*", "numpy.core"), "numpy.*");
        assert_eq!(fix_case("NumPy.Core", "numpy.core"), "numpy.core");
        assert_eq!(fix_case("Ab*Cd", "abxcd"), "ab*Cd");
        assert_eq!(fix_case("ABC", "abd"), "abC");
    }
}
