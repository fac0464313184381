//! Target patterns: which Python functions to slow down.
//!
//! A target file (docs/methodology.md) holds one pattern per line,
//! `module_glob:qualname_glob`, e.g. `numpy.*:*`, `*:*matmul*`,
//! `vllm.worker.model_runner:ModelRunner.execute_model`. `#` starts a comment
//! (a whole line, or after whitespace behind a pattern); a leading `!` makes
//! an exclude pattern. The private `grammar` module has the exact syntax;
//! [`Pattern::matches`] says what a pattern matches.
//!
//! This module is linked into the target Python process by the hook: it never
//! panics, never prints, and depends only on `nom` and the standard library.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod describe;
mod error;
mod glob;
mod grammar;
mod set;
mod suggest;

pub use error::PatternError;
pub use set::{PatternSet, targets_file_warning};
pub use suggest::suggest_relaxation;

use glob::Glob;

/// One parsed pattern: a module glob and a qualname glob, include or exclude.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// `module:qualname` as written, without the `!`.
    text: String,
    module_text: String,
    qualname_text: String,
    module: Glob,
    qualname: Glob,
    exclude: bool,
    /// The module glob contains `/`: it is matched against the file path.
    by_path: bool,
}

/// The module name multiprocessing gives the main script in spawn and
/// forkserver children; it is matched as `__main__`.
pub(crate) const MP_MAIN: &str = "__mp_main__";

impl Pattern {
    pub(crate) fn new(
        exclude: bool,
        module_text: &str,
        module: Glob,
        qualname_text: &str,
        qualname: Glob,
    ) -> Pattern {
        Pattern {
            text: format!("{module_text}:{qualname_text}"),
            module_text: module_text.to_owned(),
            qualname_text: qualname_text.to_owned(),
            module,
            qualname,
            exclude,
            by_path: module_text.contains('/'),
        }
    }

    /// The pattern as written, without a leading `!` (e.g. `numpy.*:*`).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The module name this pattern alone can match, when its module glob
    /// has no wildcard and names a module (not a file path): the key of
    /// [`PatternSet`]'s index.
    pub(crate) fn literal_module(&self) -> Option<String> {
        match self.module.shape() {
            glob::Shape::Literal(name) if !self.by_path => Some(name),
            _ => None,
        }
    }

    /// Whether this is an exclude pattern (written with a leading `!`).
    pub fn is_exclude(&self) -> bool {
        self.exclude
    }

    /// Whether the module glob contains `/` and is therefore matched against
    /// the code object's file name (`co_filename`) instead of the module name.
    pub fn matches_path(&self) -> bool {
        self.by_path
    }

    /// Whether a function matches, given its defining module's `__name__`,
    /// its code object's `co_filename` and its `co_qualname`.
    ///
    /// - The module glob matches the whole dotted module name; `*` crosses
    ///   dots. A module glob ending in `.*` also matches the package itself
    ///   (`vllm.*` matches `vllm` and `vllm.a.b`).
    /// - `__mp_main__` (the main script in multiprocessing spawn children)
    ///   matches wherever `__main__` would.
    /// - A module glob containing `/` is matched against `filename` instead
    ///   (`*/vllm/worker/*:*`).
    /// - The qualname glob matches the whole `co_qualname`
    ///   (`ModelRunner.execute_model`, `f.<locals>.g`); `*` crosses dots.
    ///
    /// Matching is case-sensitive and allocation-free.
    pub fn matches(&self, module: &str, filename: &str, qualname: &str) -> bool {
        self.matches_with(module, filename, qualname, false)
    }

    /// [`Pattern::matches`], optionally ignoring ASCII case (for suggestions).
    fn matches_with(&self, module: &str, filename: &str, qualname: &str, fold: bool) -> bool {
        self.module_matches(module, filename, fold) && self.qualname.matches(qualname, fold)
    }

    fn module_matches(&self, module: &str, filename: &str, fold: bool) -> bool {
        if self.by_path {
            return self.module.matches(filename, fold);
        }
        let name_matches =
            |name: &str| self.module.matches(name, fold) || self.module.package_matches(name, fold);
        name_matches(module) || (module == MP_MAIN && name_matches("__main__"))
    }

    /// What the pattern means in English, e.g. `every function in package
    /// 'numpy' and its submodules`; shown by `speedbump check`.
    pub fn describe(&self) -> String {
        describe::describe(self)
    }
}

/// Parses a single pattern, e.g. from `--pattern` (may start with `!`; a
/// trailing comment is allowed as in files). `source` names where the text
/// came from in error messages.
pub fn parse_pattern(source: &str, text: &str) -> Result<Pattern, PatternError> {
    match grammar::parse_line(text) {
        Ok(Some(pattern)) => Ok(pattern),
        Ok(None) => Err(PatternError::at(
            source,
            1,
            text,
            0,
            "empty pattern; write 'module_glob:function_glob' (e.g. 'numpy.*:*')",
        )),
        Err(problem) => Err(PatternError::at(
            source,
            1,
            text,
            problem.offset,
            problem.message,
        )),
    }
}
