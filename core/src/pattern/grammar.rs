//! The target-file grammar, one line at a time (nom 8).
//!
//! ```text
//! line     = blank* ( comment | pattern trailing? )?
//! trailing = blank+ comment?          -- a comment needs whitespace before '#'
//! comment  = '#' anything
//! pattern  = '!'? glob ':' glob       -- module glob ':' qualname glob
//! glob     = ( '*' | '?' | class | literal )+
//! class    = '[' ('!' | '^')? ']'? ( char ('-' char)? )* ']'
//! literal  = any character but whitespace, ':', '#', '*', '?', '['
//! ```
//!
//! nom lexes the globs; the line structure is checked by hand around it
//! because each way of getting it wrong deserves its own message and column
//! (a missing ':', a space inside a pattern, two patterns on one line...).

use nom::branch::alt;
use nom::character::complete::{char, one_of, satisfy};
use nom::combinator::{map, opt, value};
use nom::error::{ErrorKind, ParseError};
use nom::sequence::preceded;
use nom::{IResult, Parser};

use super::Pattern;
use super::glob::{Class, Glob, Token};

/// A problem in a line: its byte offset in the line and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) offset: usize,
    pub(crate) message: String,
}

/// nom's error type here: where the parser stopped, and for failures inside
/// a character class, why.
#[derive(Debug)]
struct LexError<'a> {
    at: &'a str,
    message: Option<String>,
}

impl<'a> ParseError<&'a str> for LexError<'a> {
    fn from_error_kind(input: &'a str, _kind: ErrorKind) -> Self {
        LexError {
            at: input,
            message: None,
        }
    }

    fn append(_input: &'a str, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

type LexResult<'a, T> = IResult<&'a str, T, LexError<'a>>;

/// Characters that end a glob: the separator, a comment, whitespace.
fn ends_glob(c: char) -> bool {
    c == ':' || c == '#' || c.is_whitespace()
}

fn is_literal(c: char) -> bool {
    !ends_glob(c) && !matches!(c, '*' | '?' | '[')
}

const UNCLOSED_CLASS: &str = "unclosed '[' character class; close it with ']' (e.g. '[a-z]'), or write '[[]' for a literal '['";

/// `[...]`: after the `[`, any error is a failure reported at the `[`.
fn class(input: &str) -> LexResult<'_, Token> {
    let (after_open, _) = char('[').parse(input)?;
    let unclosed = || {
        nom::Err::Failure(LexError {
            at: input,
            message: Some(UNCLOSED_CLASS.to_owned()),
        })
    };
    let member = |c: char| !ends_glob(c);
    let (mut rest, negation) = opt(one_of("!^")).parse(after_open)?;
    let mut ranges = Vec::new();
    loop {
        // ']' closes the class, except as its first member, where it is literal.
        if !ranges.is_empty() {
            if let Ok((after_close, _)) = char::<_, LexError>(']').parse(rest) {
                let class = Class {
                    negated: negation.is_some(),
                    ranges,
                };
                return Ok((after_close, Token::Class(Box::new(class))));
            }
        }
        let (after_lo, lo) = satisfy::<_, _, LexError>(member)
            .parse(rest)
            .map_err(|_| unclosed())?;
        let upper = preceded(char('-'), satisfy(|c| c != ']' && member(c)));
        match opt(upper).parse(after_lo)? {
            (after_hi, Some(hi)) => {
                if hi < lo {
                    return Err(nom::Err::Failure(LexError {
                        at: rest,
                        message: Some(format!(
                            "range '{lo}-{hi}' in a character class is backwards; write the lower character first ('{hi}-{lo}')"
                        )),
                    }));
                }
                ranges.push((lo, hi));
                rest = after_hi;
            }
            (_, None) => {
                ranges.push((lo, lo));
                rest = after_lo;
            }
        }
    }
}

fn glob_token(input: &str) -> LexResult<'_, Token> {
    alt((
        value(Token::Star, char('*')),
        value(Token::One, char('?')),
        class,
        map(satisfy(is_literal), Token::Char),
    ))
    .parse(input)
}

/// A glob (possibly empty) up to the first character that ends one.
///
/// Runs of plain characters (most of every pattern) are taken in one step
/// rather than through `glob_token`'s alternatives: a targets file of
/// 100,000 names parses several times faster. The result is what
/// `many0(glob_token)` gives.
fn glob(input: &str) -> LexResult<'_, Vec<Token>> {
    let mut tokens = Vec::new();
    let mut rest = input;
    loop {
        let plain = rest.find(|c: char| !is_literal(c)).unwrap_or(rest.len());
        let (run, after) = rest.split_at_checked(plain).unwrap_or((rest, ""));
        tokens.extend(run.chars().map(Token::Char));
        rest = after;
        match glob_token(rest) {
            Ok((after_token, token)) => {
                tokens.push(token);
                rest = after_token;
            }
            Err(nom::Err::Error(_)) => return Ok((rest, tokens)),
            Err(failure) => return Err(failure),
        }
    }
}

fn blanks(input: &str) -> &str {
    input.trim_start_matches(char::is_whitespace)
}

/// Parses one line (without its `\n`; a trailing `\r` is whitespace).
/// `Ok(None)` for blank and comment lines.
pub(crate) fn parse_line(line: &str) -> Result<Option<Pattern>, Problem> {
    // Every `rest` below is a suffix of `line`: its offset is the length difference.
    let problem = |rest: &str, message: String| Problem {
        offset: line.len().saturating_sub(rest.len()),
        message,
    };

    let start = blanks(line);
    if start.is_empty() || start.starts_with('#') {
        return Ok(None);
    }
    // Names never hold control characters; one (a NUL from a binary or
    // UTF-16 file, say) would otherwise be matched and echoed raw.
    if let Some((offset, c)) = line
        .char_indices()
        .find(|&(_, c)| c.is_control() && !c.is_whitespace())
    {
        return Err(Problem {
            offset,
            message: format!(
                "control character U+{:04X} in the pattern; module and function names never \
                 contain one (is the file UTF-16 or binary?)",
                u32::from(c)
            ),
        });
    }
    let (after_bang, exclude) = match start.strip_prefix('!') {
        Some(after) => (after, true),
        None => (start, false),
    };
    if after_bang.is_empty() || after_bang.starts_with(|c: char| c == '#' || c.is_whitespace()) {
        return Err(problem(
            after_bang,
            "'!' must be followed directly by the pattern to exclude (e.g. '!numpy.testing.*:*')"
                .into(),
        ));
    }

    let (after_module, module) = lex(after_bang).map_err(|(at, m)| problem(at, m))?;
    let module_text = slice_between(after_bang, after_module);
    match after_module.chars().next() {
        Some(':') if module.is_empty() => {
            return Err(problem(
                after_module,
                "empty module glob before ':'; write '*' for any module (e.g. '*:main')".into(),
            ));
        }
        Some(':') => {}
        Some('#') => return Err(problem(after_module, HASH_INSIDE.into())),
        Some(_) if !ends_line(blanks(after_module)) => {
            return Err(problem(after_module, WHITESPACE_INSIDE.into()));
        }
        _ => {
            return Err(problem(
                after_module,
                "expected ':' between the module glob and the function glob (e.g. 'numpy.*:*')"
                    .into(),
            ));
        }
    }
    let after_colon = after_module.get(1..).unwrap_or_default();

    let (after_qualname, qualname) = lex(after_colon).map_err(|(at, m)| problem(at, m))?;
    let qualname_text = slice_between(after_colon, after_qualname);
    match after_qualname.chars().next() {
        Some(':') => {
            return Err(problem(
                after_qualname,
                "a second ':'; only one ':' separates module and function, use '.' inside names (e.g. 'pkg.mod:Class.method')".into(),
            ));
        }
        Some(_) | None if qualname.is_empty() && ends_line(blanks(after_qualname)) => {
            return Err(problem(
                after_qualname,
                format!(
                    "empty function glob after ':'; write '*' for every function (e.g. '{module_text}:*')"
                ),
            ));
        }
        Some('#') => return Err(problem(after_qualname, HASH_INSIDE.into())),
        Some(_) if qualname.is_empty() => {
            return Err(problem(after_qualname, WHITESPACE_INSIDE.into()));
        }
        Some(_) => {
            let after_blanks = blanks(after_qualname);
            if !ends_line(after_blanks) {
                return Err(problem(
                    after_blanks,
                    "unexpected text after the pattern; write one pattern per line, and start a comment with '#'".into(),
                ));
            }
        }
        None => {}
    }

    Ok(Some(Pattern::new(
        exclude,
        module_text,
        Glob::new(module),
        qualname_text,
        Glob::new(qualname),
    )))
}

const HASH_INSIDE: &str =
    "'#' inside a pattern; put whitespace before a trailing comment (e.g. 'numpy.*:*  # note')";
const WHITESPACE_INSIDE: &str = "whitespace inside a pattern; one pattern per line";

/// Whether what is left of a line (after blanks) is nothing or a comment.
fn ends_line(rest: &str) -> bool {
    rest.is_empty() || rest.starts_with('#')
}

/// The part of `from` before its suffix `rest`.
fn slice_between<'a>(from: &'a str, rest: &str) -> &'a str {
    from.get(..from.len().saturating_sub(rest.len()))
        .unwrap_or_default()
}

/// Runs the glob lexer; a failure inside a class comes back with the rest
/// of the input where it happened (a suffix of the line) and its message.
fn lex(input: &str) -> Result<(&str, Vec<Token>), (&str, String)> {
    match glob(input) {
        Ok(done) => Ok(done),
        Err(nom::Err::Failure(e) | nom::Err::Error(e)) => {
            Err((e.at, e.message.unwrap_or_else(|| UNCLOSED_CLASS.to_owned())))
        }
        // Only streaming parsers ask for more input; ours are all complete.
        Err(nom::Err::Incomplete(_)) => Err((input, UNCLOSED_CLASS.to_owned())),
    }
}
