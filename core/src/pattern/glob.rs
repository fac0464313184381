//! Parsed globs and the matcher.
//!
//! Why our own matcher and not the `glob` crate: `glob::Pattern` is built for
//! file paths (its parse errors carry no line/column of *our* file, and its
//! options revolve around path separators), while target files need parse
//! errors positioned by our nom grammar, `*` that crosses both `.` and `/`,
//! and the trailing `.*` package rule of module globs. A regex would work but
//! pulls a large dependency into the target Python process for a few lines.
//!
//! The matcher is the classic greedy-star algorithm with a single backtrack
//! point: on a mismatch, the most recent `*` absorbs one more character and
//! matching resumes after it. Every token other than `*` consumes exactly one
//! character, which makes the single backtrack point sufficient (a later `*`
//! can absorb anything an earlier one would have). Time is O(pattern × text)
//! in the worst case, linear in practice, with no recursion and no
//! allocation.

/// One element of a glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// A literal character.
    Char(char),
    /// `*`: any run of characters, possibly empty, including `.` and `/`.
    Star,
    /// `?`: exactly one character.
    One,
    /// `[...]`: one character from (or, negated, not from) a set (boxed:
    /// rare, and a token stays 16 bytes for the plain characters of a
    /// targets file of 100,000 patterns).
    Class(Box<Class>),
}

/// A character class such as `[a-z_]` or `[!0-9]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Class {
    pub(crate) negated: bool,
    /// Inclusive ranges; a single character `c` is stored as `(c, c)`.
    pub(crate) ranges: Vec<(char, char)>,
}

impl Class {
    fn contains(&self, c: char, fold_case: bool) -> bool {
        let hit = |c: char| self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
        let found =
            hit(c) || (fold_case && (hit(c.to_ascii_lowercase()) || hit(c.to_ascii_uppercase())));
        found != self.negated
    }
}

impl Token {
    fn matches_char(&self, c: char, fold_case: bool) -> bool {
        match self {
            Token::Char(expected) => {
                *expected == c || (fold_case && expected.eq_ignore_ascii_case(&c))
            }
            Token::One => true,
            Token::Class(class) => class.contains(c, fold_case),
            Token::Star => false,
        }
    }
}

/// A parsed glob: the tokens, with runs of `*` collapsed into one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    tokens: Vec<Token>,
}

/// The shape of a glob, for describing it in words and relaxing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `*`
    Anything,
    /// No wildcard at all.
    Literal(String),
    /// `lit*`
    Prefix(String),
    /// `*lit`
    Suffix(String),
    /// `*lit*`
    Contains(String),
    /// `lit.*` (for module globs: the package and its submodules)
    Tree(String),
    /// Anything else.
    Other,
}

impl Glob {
    pub(crate) fn new(mut tokens: Vec<Token>) -> Glob {
        tokens.dedup_by(|a, b| *a == Token::Star && *b == Token::Star);
        Glob { tokens }
    }

    /// Whether the whole of `text` matches.
    pub(crate) fn matches(&self, text: &str, fold_case: bool) -> bool {
        match_tokens(&self.tokens, text, fold_case)
    }

    /// The tokens before a trailing `.*`, if the glob ends that way
    /// (`vllm.*` -> `vllm`), so a module glob can also match the package.
    pub(crate) fn package_part(&self) -> Option<&[Token]> {
        match self.tokens.as_slice() {
            [head @ .., Token::Char('.'), Token::Star] => Some(head),
            _ => None,
        }
    }

    /// Whether `text` matches the tokens before a trailing `.*`.
    pub(crate) fn package_matches(&self, text: &str, fold_case: bool) -> bool {
        self.package_part()
            .is_some_and(|head| match_tokens(head, text, fold_case))
    }

    pub(crate) fn shape(&self) -> Shape {
        let literal = |tokens: &[Token]| -> Option<String> {
            tokens
                .iter()
                .map(|t| match t {
                    Token::Char(c) => Some(*c),
                    _ => None,
                })
                .collect()
        };
        match self.tokens.as_slice() {
            [Token::Star] => Shape::Anything,
            [head @ .., Token::Char('.'), Token::Star] if literal(head).is_some() => {
                Shape::Tree(literal(head).unwrap_or_default())
            }
            [Token::Star, middle @ .., Token::Star] if literal(middle).is_some() => {
                Shape::Contains(literal(middle).unwrap_or_default())
            }
            [Token::Star, tail @ ..] if literal(tail).is_some() => {
                Shape::Suffix(literal(tail).unwrap_or_default())
            }
            [head @ .., Token::Star] if literal(head).is_some() => {
                Shape::Prefix(literal(head).unwrap_or_default())
            }
            tokens => literal(tokens).map_or(Shape::Other, Shape::Literal),
        }
    }

    /// Whether the glob has no wildcard (`*`, `?` or a class).
    pub(crate) fn is_literal(&self) -> bool {
        self.tokens.iter().all(|t| matches!(t, Token::Char(_)))
    }
}

/// Greedy star with a single backtrack point; see the module documentation.
fn match_tokens(tokens: &[Token], text: &str, fold_case: bool) -> bool {
    let mut next_token = 0usize;
    let mut rest = text;
    // After the most recent `*`: the token index following it, and the text
    // from which matching resumes if what follows the star fails.
    let mut backtrack: Option<(usize, &str)> = None;
    loop {
        let token = tokens.get(next_token);
        if let Some(Token::Star) = token {
            next_token += 1;
            backtrack = Some((next_token, rest));
            continue;
        }
        let mut chars = rest.chars();
        let Some(c) = chars.next() else {
            // Text used up: only trailing stars may remain.
            return tokens
                .get(next_token..)
                .is_some_and(|left| left.iter().all(|t| *t == Token::Star));
        };
        if token.is_some_and(|t| t.matches_char(c, fold_case)) {
            next_token += 1;
            rest = chars.as_str();
            continue;
        }
        // Mismatch: let the last star absorb one more character.
        let Some((after_star, star_end)) = backtrack else {
            return false;
        };
        let mut absorbed = star_end.chars();
        if absorbed.next().is_none() {
            return false;
        }
        backtrack = Some((after_star, absorbed.as_str()));
        next_token = after_star;
        rest = absorbed.as_str();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// Builds tokens from a tiny glob syntax without classes, for matcher tests.
    fn glob(text: &str) -> Glob {
        Glob::new(
            text.chars()
                .map(|c| match c {
                    '*' => Token::Star,
                    '?' => Token::One,
                    c => Token::Char(c),
                })
                .collect(),
        )
    }

    #[test]
    fn literal_star_and_question_mark() {
        assert!(glob("abc").matches("abc", false));
        assert!(!glob("abc").matches("abcd", false));
        assert!(!glob("abc").matches("ab", false));
        assert!(glob("a*c").matches("ac", false));
        assert!(glob("a*c").matches("a.b/c", false));
        assert!(glob("*").matches("", false));
        assert!(glob("a?c").matches("abc", false));
        assert!(!glob("a?c").matches("ac", false));
        assert!(glob("?").matches("é", false));
        assert!(glob("*a*b*c*").matches("xxaxxbxxcxx", false));
        assert!(!glob("*a*b*c*").matches("xxcxxbxxaxx", false));
        assert!(glob("*ab").matches("aab", false));
        assert!(glob("a*b*").matches("abab", false));
        assert!(!glob("").matches("a", false));
        assert!(glob("").matches("", false));
    }

    #[test]
    fn classes() {
        let class = |negated, ranges: &[(char, char)]| {
            Glob::new(vec![Token::Class(Box::new(Class {
                negated,
                ranges: ranges.to_vec(),
            }))])
        };
        let lower = class(false, &[('a', 'z')]);
        assert!(lower.matches("q", false));
        assert!(!lower.matches("Q", false));
        assert!(lower.matches("Q", true));
        let not_digit = class(true, &[('0', '9')]);
        assert!(not_digit.matches("x", false));
        assert!(!not_digit.matches("5", false));
        assert!(!not_digit.matches("", false));
    }

    #[test]
    fn no_blow_up_on_pathological_input() {
        let g = glob(&"*a".repeat(30));
        let text = "a".repeat(29) + "b";
        assert!(!g.matches(&text.repeat(100), false));
    }

    #[test]
    fn package_part_and_shapes() {
        assert!(glob("vllm.*").package_matches("vllm", false));
        assert!(!glob("vllm*").package_matches("vllm", false));
        assert_eq!(glob("*").shape(), Shape::Anything);
        assert_eq!(glob("**").shape(), Shape::Anything);
        assert_eq!(glob("a.b").shape(), Shape::Literal("a.b".into()));
        assert_eq!(glob("a.*").shape(), Shape::Tree("a".into()));
        assert_eq!(glob("a*").shape(), Shape::Prefix("a".into()));
        assert_eq!(glob("*a").shape(), Shape::Suffix("a".into()));
        assert_eq!(glob("*a*").shape(), Shape::Contains("a".into()));
        assert_eq!(glob("a?").shape(), Shape::Other);
        assert_eq!(glob("*.*").shape(), Shape::Contains(".".into()));
    }
}
