//! Durations, counts and flags as people write them in environment variables
//! (`SPEED_BUMP_DELAY_NS=10us`) and command-line options, and the reverse:
//! short human text for tables (`10.0 µs`, `3.40M`).
//!
//! This module is linked into the target Python process by the hook, so it
//! never panics, never prints, and depends on nothing but `thiserror`.
//!
//! Numbers are parsed as exact decimals, never through `f64`: `1.1us` is
//! exactly 1100 ns. A value that is not a whole number of the target unit
//! (`0.5ns`, or `2.0005s` where milliseconds are wanted) is rejected with the
//! nearest valid value in the message, rather than rounded silently: a delay
//! that differs from what the user wrote would corrupt the measurement.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::string_slice,
    clippy::print_stdout,
    clippy::print_stderr
)]

use thiserror::Error;

/// A value that could not be parsed. The message says what is wrong and what
/// to write instead; the caller prefixes the variable or option name, e.g.
/// `SPEED_BUMP_DELAY_NS: '10 parsecs' is not a duration: ...`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum UnitError {
    /// Nothing but whitespace where a value is required.
    #[error("empty value: {hint}")]
    Empty { hint: &'static str },
    /// Not a number, or a number with an unknown unit.
    #[error(
        "'{input}' is not a duration: use nanoseconds (10000) or a number with a unit (10us, 1.5ms, 2s)"
    )]
    NotADuration { input: String },
    /// Not a number, or a number with an unknown unit, where milliseconds are wanted.
    #[error(
        "'{input}' is not a number of milliseconds: use milliseconds (5000) or a number with a unit (500ms, 5s, 2.5s)"
    )]
    NotMilliseconds { input: String },
    /// A leading minus sign.
    #[error("'{input}' is negative: use 0 or more (e.g. {example})")]
    Negative {
        input: String,
        example: &'static str,
    },
    /// A decimal number without a unit: the plain form means whole units.
    #[error(
        "'{input}' has a fraction but no unit: a plain number means whole {unit}; add a unit (e.g. {input}{example_unit})"
    )]
    FractionWithoutUnit {
        input: String,
        unit: &'static str,
        example_unit: &'static str,
    },
    /// More precision than the target unit can hold (`0.5ns`, `1.0005s` as ms).
    #[error(
        "'{input}' is not a whole number of {unit}: the resolution is 1 {symbol} (nearest: {nearest})"
    )]
    Fractional {
        input: String,
        unit: &'static str,
        symbol: &'static str,
        nearest: u64,
    },
    /// Does not fit in 64 bits.
    #[error("'{input}' is too large: at most {max}")]
    TooLarge { input: String, max: &'static str },
    /// Not a whole number.
    #[error("'{input}' is not a count: use a whole number of 1 or more (e.g. 1, 10)")]
    NotACount { input: String },
    /// A count of zero where at least one is needed.
    #[error("'{input}' is zero: use a whole number of 1 or more (1 = every time)")]
    Zero { input: String },
    /// Not one of the accepted yes/no words.
    #[error("'{input}' is not a yes/no value: use 1 or 0 (also true/false, yes/no, on/off)")]
    NotAFlag { input: String },
    /// A plain number where a unit is required (`90`: seconds or nanoseconds?).
    #[error("'{input}' has no unit: write e.g. {input}s or {input}ms")]
    NoUnit { input: String },
    /// Not a duration with a unit, where seconds are wanted.
    #[error("'{input}' is not a duration: use a number with a unit (300ms, 90s, 2m, 1.5min, 1h)")]
    NotSeconds { input: String },
    /// Not a percentage or a fraction from 0 to 1.
    #[error("'{input}' is not a fraction: write a percentage (2%) or a number from 0 to 1 (0.02)")]
    NotAFraction { input: String },
}

const DURATION_HINT: &str = "use nanoseconds (10000) or a number with a unit (10us, 1.5ms, 2s)";
const MS_HINT: &str = "use milliseconds (5000) or a number with a unit (500ms, 5s, 2.5s)";
const COUNT_HINT: &str = "use a whole number of 1 or more (e.g. 1, 10)";
const SECONDS_HINT: &str = "use a number with a unit (300ms, 90s, 2m)";
const FRACTION_HINT: &str = "use a percentage (2%) or a number from 0 to 1 (0.02)";

/// Longest input echoed back in a message; env vars can be arbitrarily long.
const MAX_ECHO_CHARS: usize = 40;

/// The input as shown inside quotes in an error message (trimmed, shortened).
fn echo(s: &str) -> String {
    let mut chars = s.chars();
    let mut out: String = chars.by_ref().take(MAX_ECHO_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// The longest delay per call that speedbump injects: 10 s. A delay is
/// added to a monotonic deadline and summed into counters, so it must stay
/// far from `u64::MAX`; and a longer per-call delay is a typo, not an
/// experiment (a sweep's widest useful delay is milliseconds).
pub const MAX_DELAY_NS: u64 = 10_000_000_000;

/// Parses a per-call delay ([`parse_duration_ns`]) of at most
/// [`MAX_DELAY_NS`].
pub fn parse_delay_ns(s: &str) -> Result<u64, UnitError> {
    let ns = parse_duration_ns(s)?;
    check_delay_ns(ns).map_err(|_| UnitError::TooLarge {
        input: echo(s.trim()),
        max: "10s per call",
    })
}

/// `ns` if it is a delay speedbump can inject (at most [`MAX_DELAY_NS`]);
/// otherwise an error message that says what to fix.
pub fn check_delay_ns(ns: u64) -> Result<u64, String> {
    if ns <= MAX_DELAY_NS {
        Ok(ns)
    } else {
        Err(format!(
            "a delay of {ns} ns is too large: at most 10s per call (e.g. 10us)"
        ))
    }
}

/// Parses a duration into nanoseconds.
///
/// Accepts a plain non-negative integer (nanoseconds: `10000`) or an integer
/// or decimal number with a unit: `ns`, `us`, `µs`, `μs`, `ms`, `s` (units are
/// case-insensitive; whitespace is allowed between number and unit and
/// around the whole value). `0` is valid (no delay). A result that is not a
/// whole number of nanoseconds (`0.5ns`) is an error naming the nearest
/// whole value; there is no silent rounding.
pub fn parse_duration_ns(s: &str) -> Result<u64, UnitError> {
    let input = s.trim();
    if input.is_empty() {
        return Err(UnitError::Empty {
            hint: DURATION_HINT,
        });
    }
    let Some(number) = scan(input) else {
        return Err(if starts_negative(input) {
            UnitError::Negative {
                input: echo(input),
                example: "0 or 10us",
            }
        } else {
            UnitError::NotADuration { input: echo(input) }
        });
    };
    let unit_exp = match number.unit_exp {
        Some(exp) => exp,
        None if number.frac_digits > 0 => {
            return Err(UnitError::FractionWithoutUnit {
                input: echo(input),
                unit: "nanoseconds",
                example_unit: "us",
            });
        }
        None => 0,
    };
    convert(&number, unit_exp, 0).map_err(|e| match e {
        ConvertError::Fractional { nearest } => UnitError::Fractional {
            input: echo(input),
            unit: "nanoseconds",
            symbol: "ns",
            nearest,
        },
        ConvertError::TooLarge => UnitError::TooLarge {
            input: echo(input),
            max: "18446744073709551615 ns (about 584 years)",
        },
    })
}

/// Parses a time in milliseconds (`SPEED_BUMP_START_MS`,
/// `SPEED_BUMP_DURATION_MS`).
///
/// A plain integer means milliseconds (`5000`); a number with a unit is
/// converted (`5s` = 5000, `2.5s` = 2500, `500ms` = 500, `1500000us` = 1500).
/// Anything finer than a millisecond (`2.0005s`, `10us`) is an error naming
/// the nearest whole number of milliseconds.
pub fn parse_ms(s: &str) -> Result<u64, UnitError> {
    let input = s.trim();
    if input.is_empty() {
        return Err(UnitError::Empty { hint: MS_HINT });
    }
    let Some(number) = scan(input) else {
        return Err(if starts_negative(input) {
            UnitError::Negative {
                input: echo(input),
                example: "0 or 5000",
            }
        } else {
            UnitError::NotMilliseconds { input: echo(input) }
        });
    };
    let unit_exp = match number.unit_exp {
        Some(exp) => exp,
        None if number.frac_digits > 0 => {
            return Err(UnitError::FractionWithoutUnit {
                input: echo(input),
                unit: "milliseconds",
                example_unit: "s",
            });
        }
        None => MS_EXP,
    };
    convert(&number, unit_exp, MS_EXP).map_err(|e| match e {
        ConvertError::Fractional { nearest } => UnitError::Fractional {
            input: echo(input),
            unit: "milliseconds",
            symbol: "ms",
            nearest,
        },
        ConvertError::TooLarge => UnitError::TooLarge {
            input: echo(input),
            max: "18446744073709551615 ms",
        },
    })
}

/// Parses a whole number of 1 or more (`SPEED_BUMP_FREQUENCY`: delay every
/// Nth matching call). Surrounding whitespace is ignored; signs, fractions
/// and exponents are not accepted.
pub fn parse_positive_count(s: &str) -> Result<u64, UnitError> {
    let input = s.trim();
    if input.is_empty() {
        return Err(UnitError::Empty { hint: COUNT_HINT });
    }
    if !input.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UnitError::NotACount { input: echo(input) });
    }
    match input.parse::<u64>() {
        Ok(0) => Err(UnitError::Zero { input: echo(input) }),
        Ok(n) => Ok(n),
        Err(_) => Err(UnitError::TooLarge {
            input: echo(input),
            max: "18446744073709551615",
        }),
    }
}

/// Parses a yes/no setting: `1`, `true`, `yes`, `on` are true; `0`, `false`,
/// `no`, `off` and the empty string (a variable set to nothing) are false.
/// Case-insensitive; surrounding whitespace ignored.
pub fn parse_flag(s: &str) -> Result<bool, UnitError> {
    let input = s.trim();
    let is = |word: &str| input.eq_ignore_ascii_case(word);
    if input.is_empty() || ["0", "false", "no", "off"].into_iter().any(is) {
        Ok(false)
    } else if ["1", "true", "yes", "on"].into_iter().any(is) {
        Ok(true)
    } else {
        Err(UnitError::NotAFlag { input: echo(input) })
    }
}

/// Parses a duration for a command-line option into seconds: a number with a
/// unit (`300ms`, `90s`, `2.5s`) or minutes and hours (`2m`, `5min`, `1h`);
/// `0` alone is zero. Any other number without a unit is an error: `90`
/// could mean seconds or nanoseconds. Exact to the nanosecond, as
/// [`parse_duration_ns`].
pub fn parse_seconds(s: &str) -> Result<f64, UnitError> {
    let input = s.trim();
    if input.is_empty() {
        return Err(UnitError::Empty { hint: SECONDS_HINT });
    }
    if input == "0" {
        return Ok(0.0);
    }
    let (number, per_unit) = match minutes_or_hours(input) {
        Some((number, seconds)) => (number, seconds),
        None => (input, 1),
    };
    let scanned = scan(number);
    if per_unit == 1 && scanned.as_ref().is_some_and(|n| n.unit_exp.is_none()) {
        return Err(UnitError::NoUnit { input: echo(input) });
    }
    if per_unit != 1 && scanned.as_ref().is_none_or(|n| n.unit_exp.is_some()) {
        return Err(UnitError::NotSeconds { input: echo(input) });
    }
    let text = if per_unit == 1 {
        number.to_owned()
    } else {
        format!("{number}s")
    };
    let ns = parse_duration_ns(&text).map_err(|e| match e {
        UnitError::NotADuration { .. } => UnitError::NotSeconds { input: echo(input) },
        UnitError::Negative { .. } => UnitError::Negative {
            input: echo(input),
            example: "0 or 90s",
        },
        UnitError::FractionWithoutUnit { .. } => UnitError::NoUnit { input: echo(input) },
        UnitError::Fractional { .. } | UnitError::TooLarge { .. } if per_unit != 1 => {
            UnitError::NotSeconds { input: echo(input) }
        }
        other => other,
    })?;
    let ns = ns
        .checked_mul(per_unit)
        .ok_or_else(|| UnitError::TooLarge {
            input: echo(input),
            max: "about 584 years",
        })?;
    Ok(ns as f64 / 1e9)
}

/// `(number, seconds per unit)` when `input` ends in minutes (`m`, `min`)
/// or hours (`h`) after a number.
fn minutes_or_hours(input: &str) -> Option<(&str, u64)> {
    let lower = input.to_ascii_lowercase();
    let (unit_len, seconds) = if lower.ends_with("min") {
        (3, 60)
    } else if lower.ends_with('m') {
        (1, 60)
    } else if lower.ends_with('h') {
        (1, 3_600)
    } else {
        return None;
    };
    let number = input.get(..input.len() - unit_len)?.trim_end();
    number
        .ends_with(|c: char| c.is_ascii_digit())
        .then_some((number, seconds))
}

/// Parses a fraction for a command-line option: a percentage (`2%`) or a
/// number from 0 to 1 (`0.02`). The caller narrows the range (a precision
/// of 0 is not reachable).
pub fn parse_fraction(s: &str) -> Result<f64, UnitError> {
    let input = s.trim();
    if input.is_empty() {
        return Err(UnitError::Empty {
            hint: FRACTION_HINT,
        });
    }
    let value = match input.strip_suffix('%') {
        Some(percent) => percent.trim_end().parse::<f64>().map(|v| v / 100.0),
        None => input.parse::<f64>(),
    };
    match value {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(UnitError::NotAFraction { input: echo(input) }),
    }
}

/// Power of ten of a millisecond, in nanoseconds.
const MS_EXP: u32 = 6;

/// A non-negative decimal number as written, with its unit.
#[derive(Debug)]
struct Scanned {
    /// The integer part, or `None` if it has more digits than any u64 value.
    int: Option<u128>,
    /// The fraction's digits as an integer, after dropping trailing zeros and
    /// keeping at most [`MAX_FRAC_DIGITS`] digits.
    frac: u128,
    /// How many digits `frac` has.
    frac_digits: u32,
    /// Whether non-zero digits were dropped beyond [`MAX_FRAC_DIGITS`].
    frac_truncated: bool,
    /// The unit as a power of ten of a nanosecond (`ms` = 6), if one was given.
    unit_exp: Option<u32>,
}

/// More fraction digits than any unit can turn into whole nanoseconds (the
/// largest unit, `s`, has 9); kept so the "nearest" value rounds correctly.
const MAX_FRAC_DIGITS: u32 = 12;

/// Integer digits beyond which a value cannot fit in u64 in any unit.
const MAX_INT_DIGITS: usize = 20;

fn starts_negative(input: &str) -> bool {
    input
        .strip_prefix('-')
        .is_some_and(|rest| rest.trim_start().starts_with(|c: char| c.is_ascii_digit()))
}

/// Splits `digits [. digits] [whitespace] [unit]`; `None` if it is not that.
fn scan(input: &str) -> Option<Scanned> {
    let int_end = input
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(input.len());
    let (int_text, rest) = input.split_at_checked(int_end)?;
    if int_text.is_empty() {
        return None;
    }
    let (frac_text, rest) = match rest.strip_prefix('.') {
        Some(after_dot) => {
            let end = after_dot
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after_dot.len());
            let (frac_text, rest) = after_dot.split_at_checked(end)?;
            if frac_text.is_empty() {
                return None;
            }
            (frac_text, rest)
        }
        None => ("", rest),
    };
    let unit_text = rest.trim_start();
    let unit_exp = if unit_text.is_empty() {
        None
    } else {
        Some(unit_exponent(unit_text)?)
    };

    let significant_int = int_text.trim_start_matches('0');
    let int = if significant_int.is_empty() {
        Some(0)
    } else if significant_int.len() > MAX_INT_DIGITS {
        None
    } else {
        // At most 20 ASCII digits: fits in u128.
        significant_int.parse::<u128>().ok()
    };

    let frac_trimmed = frac_text.trim_end_matches('0');
    let mut frac: u128 = 0;
    let mut frac_digits: u32 = 0;
    let mut frac_truncated = false;
    for b in frac_trimmed.bytes() {
        if frac_digits < MAX_FRAC_DIGITS {
            frac = frac * 10 + u128::from(b - b'0');
            frac_digits += 1;
        } else if b != b'0' {
            frac_truncated = true;
        }
    }
    Some(Scanned {
        int,
        frac,
        frac_digits,
        frac_truncated,
        unit_exp,
    })
}

/// The unit as a power of ten of a nanosecond.
fn unit_exponent(unit: &str) -> Option<u32> {
    let lower = unit.to_lowercase();
    match lower.as_str() {
        "ns" => Some(0),
        "us" | "µs" | "μs" => Some(3),
        "ms" => Some(6),
        "s" => Some(9),
        _ => None,
    }
}

enum ConvertError {
    Fractional { nearest: u64 },
    TooLarge,
}

/// Converts `number` (in units of 10^`unit_exp` ns) to whole units of
/// 10^`target_exp` ns, exactly.
fn convert(number: &Scanned, unit_exp: u32, target_exp: u32) -> Result<u64, ConvertError> {
    let int = number.int.ok_or(ConvertError::TooLarge)?;
    // value = (int * 10^d + frac) * 10^(unit_exp - d - target_exp), d = frac_digits.
    // int < 10^20 and d <= 12, so the mantissa stays below 10^32 < u128::MAX.
    let d = number.frac_digits;
    let mantissa = int * 10u128.pow(d) + number.frac;
    let up = unit_exp;
    let down = d + target_exp;
    let (value, exact) = if up >= down {
        // mantissa * 10^(up - down) < 10^20 * 10^unit_exp <= 10^29.
        (mantissa * 10u128.pow(up - down), true)
    } else {
        // down - up <= 12 + 6: the divisor fits easily.
        let divisor = 10u128.pow(down - up);
        let quotient = mantissa / divisor;
        let remainder = mantissa % divisor;
        if remainder == 0 && !number.frac_truncated {
            (quotient, true)
        } else {
            let nearest = quotient + u128::from(remainder * 2 >= divisor);
            (nearest, false)
        }
    };
    let value = u64::try_from(value).map_err(|_| ConvertError::TooLarge)?;
    if exact {
        Ok(value)
    } else {
        Err(ConvertError::Fractional { nearest: value })
    }
}

/// Formats nanoseconds with three significant digits: `0 ns`, `950 ns`,
/// `10.0 µs`, `1.23 ms`, `12.3 s`. From 120 s on, minutes (`2.00 min`), and
/// from 120 min on, hours (`2.00 h`, `5124096 h` for the largest values), so
/// long windows stay readable. The output is accepted by
/// [`parse_duration_ns`] below 120 s.
pub fn format_ns(ns: u64) -> String {
    if ns < 1_000 {
        return format!("{ns} ns");
    }
    const SECOND: u128 = 1_000_000_000;
    // (unit in ns, symbol, values below this many ns use the unit)
    let units: [(u128, &str, u128); 4] = [
        (1_000, "µs", 1_000_000),
        (1_000_000, "ms", SECOND),
        (SECOND, "s", 120 * SECOND),
        (60 * SECOND, "min", 7_200 * SECOND),
    ];
    let value = u128::from(ns);
    for (unit, symbol, below) in units {
        if value < below {
            if let Some(text) = three_significant(value, unit) {
                return format!("{text} {symbol}");
            }
        }
    }
    let hour = 3_600 * SECOND;
    match three_significant(value, hour) {
        Some(text) => format!("{text} h"),
        None => format!("{} h", round_div(value, hour)),
    }
}

/// Formats a count with three significant digits and a metric suffix:
/// `999`, `1.23k`, `12.3k`, `3.40M`, `1.00G`, up to `18.4E` for u64::MAX.
pub fn format_count(n: u64) -> String {
    if n < 1_000 {
        return n.to_string();
    }
    let value = u128::from(n);
    let mut unit: u128 = 1;
    for suffix in ["k", "M", "G", "T", "P", "E"] {
        unit *= 1_000;
        // A smaller unit gave up only because the value rounds to 1000 of
        // it, so this unit shows at least 1.00.
        if let Some(text) = three_significant(value, unit) {
            return format!("{text}{suffix}");
        }
    }
    // Unreachable for u64 (its maximum is 18.4E); plain digits are a safe answer.
    n.to_string()
}

/// Formats a rate (per second, without the unit) with three significant
/// digits, like [`format_count`]: `0`, `0.50`, `12.3`, `953`, `1.52k`,
/// `123M`. Not a number or below 0: `-`.
pub fn format_rate(per_s: f64) -> String {
    if !per_s.is_finite() || per_s < 0.0 {
        return "-".to_owned();
    }
    if per_s == 0.0 {
        return "0".to_owned();
    }
    // From 999.5 on the value rounds to a whole number with a suffix; `as`
    // saturates above u64::MAX.
    if per_s >= 999.5 {
        return format_count(per_s.round() as u64);
    }
    // The thresholds are where rounding to fewer decimals would show a
    // fourth significant digit (`99.96` is `100`, not `100.0`).
    let digits = if per_s >= 99.95 {
        0
    } else if per_s >= 9.995 {
        1
    } else {
        2
    };
    format!("{per_s:.digits$}")
}

/// `value / unit` with three significant digits (`1.23`, `12.3`, `123`), or
/// `None` when it rounds to 1000 or more and the next unit should be used.
/// Expects `value / unit` to round to at least 1.00, and `value < 2^64`, so
/// nothing overflows.
fn three_significant(value: u128, unit: u128) -> Option<String> {
    let hundredths = round_div(value * 100, unit);
    if hundredths < 1_000 {
        return Some(format!("{}.{:02}", hundredths / 100, hundredths % 100));
    }
    let tenths = round_div(value * 10, unit);
    if tenths < 1_000 {
        return Some(format!("{}.{}", tenths / 10, tenths % 10));
    }
    let whole = round_div(value, unit);
    (whole < 1_000).then(|| whole.to_string())
}

/// Division rounding half up; `divisor` must be non-zero (all callers pass
/// positive constants).
fn round_div(value: u128, divisor: u128) -> u128 {
    (value + divisor / 2) / divisor
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn seconds_need_a_unit_and_take_minutes() {
        assert_eq!(parse_seconds("90s"), Ok(90.0));
        assert_eq!(parse_seconds("300ms"), Ok(0.3));
        assert_eq!(parse_seconds("0"), Ok(0.0));
        assert_eq!(parse_seconds("2m"), Ok(120.0));
        assert_eq!(parse_seconds("5min"), Ok(300.0));
        assert_eq!(parse_seconds("1.5 min"), Ok(90.0));
        assert_eq!(parse_seconds("1h"), Ok(3_600.0));
        assert_eq!(parse_seconds("2ms"), Ok(0.002));
        assert_eq!(
            parse_seconds("90"),
            Err(UnitError::NoUnit { input: "90".into() })
        );
        assert_eq!(
            parse_seconds("1.5"),
            Err(UnitError::NoUnit {
                input: "1.5".into()
            })
        );
        assert!(matches!(
            parse_seconds("fast"),
            Err(UnitError::NotSeconds { .. })
        ));
        assert!(matches!(
            parse_seconds("m"),
            Err(UnitError::NotSeconds { .. })
        ));
        assert!(matches!(
            parse_seconds("-2m"),
            Err(UnitError::NotSeconds { .. })
        ));
        assert!(matches!(
            parse_seconds("-2s"),
            Err(UnitError::Negative { .. })
        ));
        assert!(parse_seconds("").is_err());
    }

    #[test]
    fn fractions_as_percent_or_number() {
        assert_eq!(parse_fraction("2%"), Ok(0.02));
        assert_eq!(parse_fraction("0.02"), Ok(0.02));
        assert_eq!(parse_fraction("0"), Ok(0.0));
        assert_eq!(parse_fraction(" 50 % "), Ok(0.5));
        for bad in ["2", "150%", "-1%", "nan", "two", ""] {
            assert!(parse_fraction(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_without_unit_are_nanoseconds() {
        assert_eq!(parse_duration_ns("10000"), Ok(10_000));
        assert_eq!(parse_duration_ns("0"), Ok(0));
        assert_eq!(parse_duration_ns("  42 \t"), Ok(42));
        assert_eq!(parse_duration_ns("007"), Ok(7));
    }

    #[test]
    fn durations_with_units() {
        assert_eq!(parse_duration_ns("10ns"), Ok(10));
        assert_eq!(parse_duration_ns("10us"), Ok(10_000));
        assert_eq!(parse_duration_ns("10µs"), Ok(10_000)); // U+00B5
        assert_eq!(parse_duration_ns("10μs"), Ok(10_000)); // U+03BC
        assert_eq!(parse_duration_ns("1.5us"), Ok(1_500));
        assert_eq!(parse_duration_ns("1ms"), Ok(1_000_000));
        assert_eq!(parse_duration_ns("2s"), Ok(2_000_000_000));
        assert_eq!(parse_duration_ns("1.1us"), Ok(1_100));
        assert_eq!(parse_duration_ns("10 us"), Ok(10_000));
        assert_eq!(parse_duration_ns("10\tMS"), Ok(10_000_000));
        assert_eq!(parse_duration_ns("0.000000001s"), Ok(1));
        assert_eq!(parse_duration_ns("1.50000000000000000000us"), Ok(1_500));
        assert_eq!(parse_duration_ns("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_duration_ns("18446744073.709551615s"), Ok(u64::MAX));
    }

    #[test]
    fn duration_errors_say_what_to_write() {
        assert_eq!(
            parse_duration_ns("10 parsecs").unwrap_err().to_string(),
            "'10 parsecs' is not a duration: use nanoseconds (10000) or a number with a unit (10us, 1.5ms, 2s)"
        );
        assert_eq!(
            parse_duration_ns("").unwrap_err().to_string(),
            "empty value: use nanoseconds (10000) or a number with a unit (10us, 1.5ms, 2s)"
        );
        assert_eq!(
            parse_duration_ns("-5us").unwrap_err().to_string(),
            "'-5us' is negative: use 0 or more (e.g. 0 or 10us)"
        );
        assert_eq!(
            parse_duration_ns("0.5ns").unwrap_err().to_string(),
            "'0.5ns' is not a whole number of nanoseconds: the resolution is 1 ns (nearest: 1)"
        );
        assert_eq!(
            parse_duration_ns("1.5").unwrap_err().to_string(),
            "'1.5' has a fraction but no unit: a plain number means whole nanoseconds; add a unit (e.g. 1.5us)"
        );
        assert_eq!(
            parse_duration_ns("18446744073709551616")
                .unwrap_err()
                .to_string(),
            "'18446744073709551616' is too large: at most 18446744073709551615 ns (about 584 years)"
        );
        for bad in [
            "NaN", "inf", "1e3", "+5", ".5us", "5.us", "us", "1 2", "1,5ms", "--1",
        ] {
            assert_eq!(
                parse_duration_ns(bad),
                Err(UnitError::NotADuration { input: bad.into() }),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_duration_ns("99999999999999999999999999s"),
            Err(UnitError::TooLarge { .. })
        ));
        assert_eq!(
            parse_duration_ns("1.0000000000000000000001s"),
            Err(UnitError::Fractional {
                input: "1.0000000000000000000001s".into(),
                unit: "nanoseconds",
                symbol: "ns",
                nearest: 1_000_000_000
            })
        );
    }

    #[test]
    fn long_input_is_shortened_in_messages() {
        let long = "x".repeat(100);
        let message = parse_duration_ns(&long).unwrap_err().to_string();
        assert!(message.starts_with(&format!("'{}…' is not", "x".repeat(40))));
    }

    #[test]
    fn milliseconds() {
        assert_eq!(parse_ms("5000"), Ok(5_000));
        assert_eq!(parse_ms("5s"), Ok(5_000));
        assert_eq!(parse_ms("500ms"), Ok(500));
        assert_eq!(parse_ms("2.5s"), Ok(2_500));
        assert_eq!(parse_ms("1500000us"), Ok(1_500));
        assert_eq!(parse_ms(" 0 "), Ok(0));
        assert_eq!(
            parse_ms("2.0005s").unwrap_err().to_string(),
            "'2.0005s' is not a whole number of milliseconds: the resolution is 1 ms (nearest: 2001)"
        );
        assert_eq!(
            parse_ms("10us").unwrap_err().to_string(),
            "'10us' is not a whole number of milliseconds: the resolution is 1 ms (nearest: 0)"
        );
        assert_eq!(
            parse_ms("2.5").unwrap_err().to_string(),
            "'2.5' has a fraction but no unit: a plain number means whole milliseconds; add a unit (e.g. 2.5s)"
        );
        assert_eq!(
            parse_ms("soon").unwrap_err().to_string(),
            "'soon' is not a number of milliseconds: use milliseconds (5000) or a number with a unit (500ms, 5s, 2.5s)"
        );
        assert_eq!(
            parse_ms("-1").unwrap_err().to_string(),
            "'-1' is negative: use 0 or more (e.g. 0 or 5000)"
        );
    }

    #[test]
    fn counts() {
        assert_eq!(parse_positive_count("1"), Ok(1));
        assert_eq!(parse_positive_count(" 10 "), Ok(10));
        assert_eq!(
            parse_positive_count("0").unwrap_err().to_string(),
            "'0' is zero: use a whole number of 1 or more (1 = every time)"
        );
        assert_eq!(
            parse_positive_count("2.5").unwrap_err().to_string(),
            "'2.5' is not a count: use a whole number of 1 or more (e.g. 1, 10)"
        );
        for bad in ["-1", "+1", "1e2", "ten"] {
            assert!(
                matches!(parse_positive_count(bad), Err(UnitError::NotACount { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_positive_count("99999999999999999999"),
            Err(UnitError::TooLarge { .. })
        ));
        assert!(matches!(
            parse_positive_count(""),
            Err(UnitError::Empty { .. })
        ));
    }

    #[test]
    fn flags() {
        for yes in ["1", "true", "TRUE", "Yes", "on", " ON "] {
            assert_eq!(parse_flag(yes), Ok(true), "{yes}");
        }
        for no in ["", "  ", "0", "false", "No", "OFF"] {
            assert_eq!(parse_flag(no), Ok(false), "{no}");
        }
        assert_eq!(
            parse_flag("maybe").unwrap_err().to_string(),
            "'maybe' is not a yes/no value: use 1 or 0 (also true/false, yes/no, on/off)"
        );
    }

    #[test]
    fn formats_durations_with_three_significant_digits() {
        let cases = [
            (0, "0 ns"),
            (950, "950 ns"),
            (999, "999 ns"),
            (1_000, "1.00 µs"),
            (1_234, "1.23 µs"),
            (9_995, "10.0 µs"),
            (10_000, "10.0 µs"),
            (999_499, "999 µs"),
            (999_500, "1.00 ms"),
            (999_999, "1.00 ms"),
            (1_230_000, "1.23 ms"),
            (12_345_000_000, "12.3 s"),
            (119_000_000_000, "119 s"),
            (120_000_000_000, "2.00 min"),
            (3_600_000_000_000, "60.0 min"),
            (7_200_000_000_000, "2.00 h"),
            (u64::MAX, "5124096 h"),
        ];
        for (ns, text) in cases {
            assert_eq!(format_ns(ns), text, "{ns}");
        }
    }

    #[test]
    fn formats_counts() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1_000, "1.00k"),
            (1_234, "1.23k"),
            (12_345, "12.3k"),
            (999_999, "1.00M"),
            (3_400_000, "3.40M"),
            (1_000_000_000, "1.00G"),
            (u64::MAX, "18.4E"),
        ];
        for (n, text) in cases {
            assert_eq!(format_count(n), text, "{n}");
        }
    }

    #[test]
    fn formats_rates_with_three_significant_digits() {
        let cases = [
            (0.0, "0"),
            (0.5, "0.50"),
            (1.234, "1.23"),
            (9.996, "10.0"),
            (12.345, "12.3"),
            (99.96, "100"),
            (953.0, "953"),
            (999.4, "999"),
            (999.6, "1.00k"),
            (1_234.0, "1.23k"),
            (1_523.4, "1.52k"),
            (123_456_789.0, "123M"),
            (2e12, "2.00T"),
            (f64::NAN, "-"),
            (f64::INFINITY, "-"),
            (-1.0, "-"),
        ];
        for (per_s, text) in cases {
            assert_eq!(format_rate(per_s), text, "{per_s}");
        }
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in any::<String>()) {
            let _ = parse_duration_ns(&s);
            let _ = parse_ms(&s);
            let _ = parse_positive_count(&s);
            let _ = parse_flag(&s);
        }

        #[test]
        fn number_like_input_never_panics(s in "[-+ 0-9.eE]{0,30}(ns|us|µs|μs|ms|s|x)?") {
            let _ = parse_duration_ns(&s);
            let _ = parse_ms(&s);
        }

        #[test]
        fn integers_round_trip_in_each_unit(n in 0u64..=18_446_744_073) {
            for (unit, ns_per_unit) in [("", 1), ("ns", 1), ("us", 1_000), ("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000)] {
                let expected = n.checked_mul(ns_per_unit);
                let parsed = parse_duration_ns(&format!("{n}{unit}"));
                match expected {
                    Some(ns) => prop_assert_eq!(parsed, Ok(ns)),
                    None => prop_assert!(matches!(parsed, Err(UnitError::TooLarge { .. })), "{n}{unit}"),
                }
            }
            prop_assert_eq!(parse_ms(&format!("{n}")), Ok(n));
            prop_assert_eq!(parse_ms(&format!("{n}ms")), Ok(n));
            prop_assert_eq!(parse_ms(&format!("{}s", n % 1_000_000)), Ok(n % 1_000_000 * 1_000));
        }

        #[test]
        fn formatted_durations_parse_back_within_half_a_percent(ns in 0u64..120_000_000_000) {
            let text = format_ns(ns);
            let back = parse_duration_ns(&text).unwrap();
            let error = back.abs_diff(ns) as f64 / (ns.max(1)) as f64;
            prop_assert!(error <= 0.005, "{ns} -> {text} -> {back}");
            if ns < 1_000 {
                prop_assert_eq!(back, ns);
            }
        }

        #[test]
        fn formatted_counts_have_three_significant_digits(n in any::<u64>()) {
            let text = format_count(n);
            let digits = text.chars().filter(char::is_ascii_digit).count();
            prop_assert!(if n < 1_000 { digits <= 3 } else { digits == 3 }, "{n} -> {text}");
        }
    }
}
