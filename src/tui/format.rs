//! Numbers as the screens show them: rates, percentages with intervals,
//! delays, bars. Pure functions.

use crate::analysis::{Interval, Verdict};
pub use crate::units::format_rate;
use crate::units::{format_ns, parse_delay_ns};

/// A delay: `0`, `950 ns`, `10.0 µs`.
pub fn delay(ns: u64) -> String {
    if ns == 0 { "0".into() } else { format_ns(ns) }
}

/// A compact delay for axis labels: `0`, `1µs`, `10µs`, `1.5ms`.
pub fn delay_short(ns: u64) -> String {
    let text = delay(ns);
    match text.split_once(' ') {
        Some((number, unit)) if number.contains('.') => {
            format!(
                "{}{unit}",
                number.trim_end_matches('0').trim_end_matches('.')
            )
        }
        Some((number, unit)) => format!("{number}{unit}"),
        None => text,
    }
}

/// A ratio in at most 5 characters, as precise as that allows: `0.912`,
/// `-0.12`, `52.73`, `527.3`, `-527`, `33k`; never cut.
pub fn ratio_short(x: f64) -> String {
    if !x.is_finite() {
        return "?".into();
    }
    for decimals in (0..=3).rev() {
        let text = format!("{x:.decimals$}");
        if text.len() <= 5 {
            return text;
        }
    }
    let (value, suffix) = if x.abs() < 1e6 {
        (x / 1e3, "k")
    } else if x.abs() < 1e9 {
        (x / 1e6, "M")
    } else {
        return if x < 0.0 { "-huge" } else { "huge" }.into();
    };
    format!("{value:.0}{suffix}")
}

/// An interval of ratios in at most 13 characters: `[0.905,0.920]`,
/// `[0.001,527.3]`.
pub fn ratio_interval(interval: Option<Interval>) -> String {
    interval.map_or("[?]".into(), |i| {
        format!("[{},{}]", ratio_short(i.low), ratio_short(i.high))
    })
}

/// A signed percentage of a fraction without its `%`, in at most 6
/// characters: `-32.1`, `+0.4`, `+3326` (no decimal from 1000%), `+3e5`.
fn signed_percent_number(fraction: f64) -> String {
    let p = fraction * 100.0;
    if !p.is_finite() {
        return "?".into();
    }
    if p.abs() < 999.95 {
        format!("{p:+.1}")
    } else if p.abs() < 99_999.5 {
        format!("{p:+.0}")
    } else {
        format!("{p:+.0e}")
    }
}

/// A signed percentage of a fraction: `-32.1%`, `+0.4%` (at most 7
/// characters).
pub fn signed_percent(fraction: f64) -> String {
    format!("{}%", signed_percent_number(fraction))
}

/// An interval of fractions as signed percentages: `[-34.0, -30.2]%` (at
/// most 17 characters: `[-99.8, +33267]%`).
pub fn signed_interval(interval: Option<Interval>) -> String {
    match interval {
        Some(i) => format!(
            "[{}, {}]%",
            signed_percent_number(i.low),
            signed_percent_number(i.high)
        ),
        None => "[?]".into(),
    }
}

/// A throughput change from a drop (0.32 → `-32.0%`) with its interval
/// (the drop interval turned into a change interval).
pub fn change(drop: f64, drop_interval: Option<Interval>) -> String {
    format!(
        "{} {}",
        signed_percent(-drop),
        signed_interval(drop_interval.map(|i| i.map(|v| -v)))
    )
}

/// Parses step 1's delays: comma- or space-separated durations
/// (`0, 1us, 10us, 100us`), each as `--delay` takes it. Sorted, duplicates
/// removed; at least one non-zero delay.
pub fn parse_delays(text: &str) -> Result<Vec<u64>, String> {
    let mut delays = Vec::new();
    for part in text.split([',', ' ']).filter(|p| !p.trim().is_empty()) {
        delays.push(parse_delay_ns(part).map_err(|e| e.to_string())?);
    }
    delays.sort_unstable();
    delays.dedup();
    if !delays.iter().any(|&d| d > 0) {
        return Err("give at least one delay above 0 (e.g. 0, 1us, 10us, 100us)".into());
    }
    Ok(delays)
}

/// Delays as the editor shows them: `0, 1us, 10us, 100us`.
pub fn delays_text(delays: &[u64]) -> String {
    delays
        .iter()
        .map(|&d| delay_short(d).replace('µ', "u"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A horizontal bar of `fraction` (0 to 1) of `width` cells, in eighths.
pub fn bar(fraction: f64, width: usize) -> String {
    const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let fraction = if fraction.is_finite() {
        fraction.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let eighths = (fraction * width as f64 * 8.0).round() as usize;
    let mut out = "█".repeat(eighths / 8);
    if eighths % 8 > 0 {
        out.push(EIGHTHS[eighths % 8]);
    }
    let used = out.chars().count();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(used)));
    out
}

/// How sure a setting is: a mark and a short word.
pub fn verdict_mark(verdict: Option<&Verdict>) -> (&'static str, &'static str) {
    match verdict {
        None => ("·", "waiting"),
        Some(Verdict::Continue { .. }) => ("…", "measuring"),
        Some(Verdict::Precise { .. }) => ("✓", "precise"),
        Some(Verdict::TooNoisy { .. }) => ("~", "noisy"),
        Some(Verdict::NoCalls { .. }) => ("∅", "no calls"),
    }
}

/// Pairs behind a verdict.
pub fn verdict_pairs(verdict: Option<&Verdict>) -> usize {
    match verdict {
        None => 0,
        Some(
            Verdict::Continue { pairs_used, .. }
            | Verdict::Precise { pairs_used, .. }
            | Verdict::TooNoisy { pairs_used, .. }
            | Verdict::NoCalls { pairs_used },
        ) => *pairs_used,
    }
}

/// Seconds: `12.3 s`, `2 min 5 s`.
pub fn seconds(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "-".into();
    }
    if s < 120.0 {
        format!("{s:.1} s")
    } else {
        let whole = s.round() as u64;
        format!("{} min {} s", whole / 60, whole % 60)
    }
}

/// Cuts `text` to `width` chars, with `…` when cut.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Cuts `text` to `width` chars keeping its end (`…del.model:Class.f`).
pub fn fit_left(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        return text.to_owned();
    }
    let mut out = String::from("…");
    out.extend(text.chars().skip(n + 1 - width.max(1)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_fit_five_characters_and_intervals_thirteen() {
        for (x, shown) in [
            (0.912, "0.912"),
            (-0.123, "-0.12"),
            (52.734, "52.73"),
            (527.27, "527.3"),
            (-527.27, "-527"),
            (33267.1, "33267"),
            (332671.0, "333k"),
            (-33267.1, "-33k"),
        ] {
            assert_eq!(ratio_short(x), shown);
        }
        assert_eq!(
            change(-0.1, Some(Interval::new(-332.671, 0.998))),
            "+10.0% [-99.8, +33267]%"
        );
        assert_eq!(signed_percent(-0.321), "-32.1%");
        assert_eq!(signed_percent(5000.0), "+5e5%");
        let i = ratio_interval(Some(Interval::new(0.001, 527.27)));
        assert_eq!(i, "[0.001,527.3]");
        assert!(i.chars().count() <= 13);
    }

    #[test]
    fn delays_round_trip() {
        let d = parse_delays("0, 1us,10us 100us").unwrap();
        assert_eq!(d, vec![0, 1_000, 10_000, 100_000]);
        assert_eq!(delays_text(&d), "0, 1us, 10us, 100us");
        assert_eq!(parse_delays(&delays_text(&d)).unwrap(), d);
        assert!(parse_delays("0").is_err());
        assert!(parse_delays("fast").unwrap_err().contains("fast"));
    }

    #[test]
    fn bars_and_numbers() {
        assert_eq!(bar(0.5, 4), "██  ");
        assert_eq!(bar(1.0 / 16.0, 2), "▏ ");
        assert_eq!(bar(f64::NAN, 2), "  ");
        assert_eq!(
            change(0.32, Some(Interval::new(0.30, 0.34))),
            "-32.0% [-34.0, -30.0]%"
        );
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit_left("abcdef", 4), "…def");
        assert_eq!(delay_short(1_500_000), "1.5ms");
        assert_eq!(delay_short(100_000), "100µs");
    }
}
