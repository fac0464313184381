//! Errors as one line of text: the message and each cause after it, once.
//!
//! Error types put their cause in `#[source]` and leave it out of their own
//! message, so `anyhow`'s `{err:#}` prints the chain once. Where an error
//! becomes text (a warning, a protocol message, a status line), [`chain`]
//! does the same.

use std::error::Error;
use std::fmt::Write as _;

/// `message: cause: cause of the cause`.
pub fn chain(err: &(dyn Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot start ./x")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn each_cause_once() {
        let e = Outer(std::io::Error::from_raw_os_error(13));
        let text = chain(&e);
        assert_eq!(text.matches("Permission denied").count(), 1, "{text}");
        assert!(
            text.starts_with("cannot start ./x: Permission denied"),
            "{text}"
        );
    }
}
