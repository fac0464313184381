//! SVG plots, written by hand: throughput against delay (points with their
//! 95% intervals and the fitted shape) and ranked bars of criticality (with
//! intervals).
//!
//! Why by hand and not `plotters`: the two plots need a few dozen elements;
//! plotters' text layout wants font metrics (its `ttf` feature loads system
//! fonts through fontconfig), and its SVG output is not byte-stable across
//! versions, which snapshot tests need. Text is left to the viewer's
//! `sans-serif`.

use std::fmt::Write;

use crate::analysis::criticality::{IMPLAUSIBLE_CRITICALITY, implausible};
use crate::analysis::{Interval, OrderBy, Shape, SweepPoint, gain_or_criticality, order_key};
use crate::units::format_ns;

use super::text::shape_name;
use crate::experiment::protocol::{RankResult, SweepResult};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 400.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 56.0;
const BLUE: &str = "#1f5fa8";
const RED: &str = "#c0392b";
const GREY: &str = "#888888";

/// Escapes text for XML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn header(out: &mut String, width: f64, height: f64, title: &str) {
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(
        out,
        "<rect width=\"{width:.0}\" height=\"{height:.0}\" fill=\"white\"/>"
    );
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"24\" text-anchor=\"middle\" font-size=\"14\">{}</text>",
        width / 2.0,
        escape(title)
    );
}

/// A linear or logarithmic axis mapping values to pixels.
#[derive(Debug, Clone, Copy)]
struct Axis {
    low: f64,
    high: f64,
    from_px: f64,
    to_px: f64,
    log: bool,
}

impl Axis {
    fn px(&self, value: f64) -> f64 {
        let (v, lo, hi) = if self.log {
            (
                value.max(f64::MIN_POSITIVE).log10(),
                self.low.log10(),
                self.high.log10(),
            )
        } else {
            (value, self.low, self.high)
        };
        let span = if hi > lo { hi - lo } else { 1.0 };
        self.from_px + (v - lo) / span * (self.to_px - self.from_px)
    }

    /// Tick values: decades (log) or 5 even steps (linear).
    fn ticks(&self) -> Vec<f64> {
        if self.log {
            let first = self.low.log10().ceil() as i32;
            let last = self.high.log10().floor() as i32;
            return (first..=last).map(|e| 10f64.powi(e)).collect();
        }
        nice_ticks(self.low, self.high)
    }
}

/// About five round tick values (the step of 1, 2, 5 or 10 × 10^k that
/// gives the count closest to five) in `[low, high]`.
fn nice_ticks(low: f64, high: f64) -> Vec<f64> {
    let span = high - low;
    if !(span.is_finite() && span > 0.0) {
        return vec![low];
    }
    let raw = span / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let ticks_of = |step: f64| (span / step - 5.0).abs();
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .min_by(|a, b| ticks_of(*a).total_cmp(&ticks_of(*b)))
        .unwrap_or(magnitude);
    let first = (low / step - 1e-9).ceil() as i64;
    let last = (high / step + 1e-9).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// The slowdown the fitted shape predicts at `load` (see
/// [`crate::analysis::fit`]).
fn fitted_slowdown(r: &SweepResult, points: &[&SweepPoint], load: f64) -> Option<f64> {
    match r.shape.shape {
        Shape::None => Some(0.0),
        Shape::Linear | Shape::SubLinear => r.shape.fit.map(|f| f.slope * load),
        Shape::Threshold { .. } => {
            let t0 = points
                .iter()
                .map(|p| p.baseline_time_per_unit_s)
                .sum::<f64>()
                / points.len().max(1) as f64;
            let knee = r.shape.knee?.slack_per_unit_s / t0.max(f64::MIN_POSITIVE);
            // Least squares slope of the hinge through the knee.
            let tail: Vec<&&SweepPoint> = points.iter().filter(|p| p.load() > knee).collect();
            let sxx: f64 = tail.iter().map(|p| (p.load() - knee).powi(2)).sum();
            let sxy: f64 = tail.iter().map(|p| (p.load() - knee) * p.slowdown()).sum();
            let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
            Some(slope * (load - knee).max(0.0))
        }
    }
}

/// Relative throughput against delay per call, with intervals and the fit.
pub fn sweep_svg(r: &SweepResult, title: &str) -> String {
    let mut out = String::new();
    header(&mut out, WIDTH, HEIGHT, title);
    let points: Vec<&SweepPoint> = r
        .points
        .iter()
        .flatten()
        .filter(|p| p.delay_ns > 0)
        .collect();
    let (x_plot, y_plot) = ((LEFT, WIDTH - RIGHT), (HEIGHT - BOTTOM, TOP));
    if points.is_empty() {
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">no measured point</text>\n</svg>",
            WIDTH / 2.0,
            HEIGHT / 2.0
        );
        return out;
    }
    let min_d = points
        .iter()
        .map(|p| p.delay_ns as f64)
        .fold(f64::INFINITY, f64::min);
    let max_d = points.iter().map(|p| p.delay_ns as f64).fold(0.0, f64::max);
    let log = points.len() > 1 && max_d / min_d >= 10.0;
    let x = if log {
        Axis {
            low: 10f64.powf((min_d / 2.0).log10().floor()),
            high: 10f64.powf((max_d * 2.0).log10().ceil()),
            from_px: x_plot.0,
            to_px: x_plot.1,
            log,
        }
    } else {
        Axis {
            low: 0.0,
            high: max_d * 1.15,
            from_px: x_plot.0,
            to_px: x_plot.1,
            log,
        }
    };
    let lows = points
        .iter()
        .map(|p| p.relative.interval.map_or(p.relative.relative, |i| i.low));
    let highs = points
        .iter()
        .map(|p| p.relative.interval.map_or(p.relative.relative, |i| i.high));
    let y_low = ((lows.fold(1.0, f64::min) - 0.05) * 10.0).floor() / 10.0;
    let y_high = (highs.fold(1.0, f64::max) + 0.05).max(1.05);
    let y = Axis {
        low: y_low.max(0.0),
        high: y_high,
        from_px: y_plot.0,
        to_px: y_plot.1,
        log: false,
    };
    axes(
        &mut out,
        &x,
        &y,
        "delay per call",
        "relative throughput",
        |v| format_ns(v.max(0.0) as u64),
    );
    // Baseline.
    let _ = writeln!(
        out,
        "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{GREY}\" \
         stroke-dasharray=\"4 3\"/>",
        x_plot.0,
        y.px(1.0),
        x_plot.1,
        y.px(1.0)
    );
    // Fit.
    let scales: Vec<f64> = points
        .iter()
        .filter_map(|p| p.delay_ns_per_load())
        .collect();
    if !scales.is_empty() {
        let ns_per_load = scales.iter().sum::<f64>() / scales.len() as f64;
        let mut path = String::new();
        for i in 0..=80 {
            let f = f64::from(i) / 80.0;
            let d = if log {
                10f64.powf(x.low.log10() + f * (x.high.log10() - x.low.log10()))
            } else {
                x.low + f * (x.high - x.low)
            };
            let Some(s) = fitted_slowdown(r, &points, d / ns_per_load) else {
                path.clear();
                break;
            };
            let rel = 1.0 / (1.0 + s.max(-0.99));
            if rel < y.low || rel > y.high {
                continue;
            }
            let _ = write!(
                path,
                "{}{:.1},{:.1} ",
                if path.is_empty() { "M" } else { "L" },
                x.px(d),
                y.px(rel)
            );
        }
        if !path.is_empty() {
            let _ = writeln!(
                out,
                "<path d=\"{}\" fill=\"none\" stroke=\"{RED}\" stroke-width=\"1.5\"/>",
                path.trim_end()
            );
        }
    }
    if let Shape::Threshold { knee_ns } = r.shape.shape {
        if knee_ns > x.low && knee_ns < x.high {
            let _ = writeln!(
                out,
                "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"{RED}\" \
                 stroke-dasharray=\"2 3\"/>",
                x.px(knee_ns),
                y_plot.0,
                y_plot.1
            );
        }
    }
    for p in &points {
        let px = x.px(p.delay_ns as f64);
        if let Some(i) = p.relative.interval {
            let _ = writeln!(
                out,
                "<line x1=\"{px:.1}\" y1=\"{:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"{BLUE}\"/>",
                y.px(i.low.max(y.low)),
                y.px(i.high.min(y.high))
            );
        }
        let _ = writeln!(
            out,
            "<circle cx=\"{px:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{BLUE}\"/>",
            y.px(p.relative.relative)
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"{RED}\">fit: {}</text>",
        x_plot.1,
        TOP + 4.0,
        escape(&shape_name(&r.shape.shape))
    );
    out.push_str("</svg>\n");
    out
}

fn axes(
    out: &mut String,
    x: &Axis,
    y: &Axis,
    x_label: &str,
    y_label: &str,
    x_tick: impl Fn(f64) -> String,
) {
    let (x0, x1, y0, y1) = (x.from_px, x.to_px, y.from_px, y.to_px);
    let _ = writeln!(
        out,
        "<path d=\"M{x0:.1},{y1:.1} L{x0:.1},{y0:.1} L{x1:.1},{y0:.1}\" fill=\"none\" stroke=\"black\"/>"
    );
    for t in x.ticks() {
        let px = x.px(t);
        let _ = writeln!(
            out,
            "<line x1=\"{px:.1}\" y1=\"{y0:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"black\"/>\
             <text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            y0 + 5.0,
            y0 + 18.0,
            escape(&x_tick(t))
        );
    }
    for t in y.ticks() {
        let py = y.px(t);
        let _ = writeln!(
            out,
            "<line x1=\"{:.1}\" y1=\"{py:.1}\" x2=\"{x0:.1}\" y2=\"{py:.1}\" stroke=\"black\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{t:.2}</text>",
            x0 - 5.0,
            x0 - 8.0,
            py + 4.0
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
        (x0 + x1) / 2.0,
        y0 + 40.0,
        escape(x_label)
    );
    let _ = writeln!(
        out,
        "<text x=\"16\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {:.1})\">{}</text>",
        (y0 + y1) / 2.0,
        (y0 + y1) / 2.0,
        escape(y_label)
    );
}

/// The value a ranking orders by, in words for the axis and per bar.
fn key_axis(by: OrderBy) -> (&'static str, fn(f64) -> String) {
    match by {
        OrderBy::Drop => ("throughput drop (the order of the ranking)", |v| {
            format!("{:.1}%", v * 100.0)
        }),
        OrderBy::Gain => (
            "time gained per unit by removing it (criticality × own time)",
            |v| format_ns(v.max(0.0).round() as u64),
        ),
        OrderBy::Criticality => (
            "criticality (1 = every injected ns on the critical path)",
            |v| format!("{v:.2}"),
        ),
    }
}

/// Ranked bars, best first: each bar is the value the ranking orders by
/// (drop at an equal delay per call, gain or criticality at an equal dose),
/// so the bars read in rank order; a bar or interval beyond the axis ends
/// in a clip mark (`»`, or `«` below 0) with its true value beside it.
pub fn rank_svg(r: &RankResult, title: &str) -> String {
    let by = if r.dose.is_some() {
        gain_or_criticality(&r.ranked)
    } else {
        OrderBy::Drop
    };
    let (axis_title, show) = key_axis(by);
    let keys: Vec<Option<(f64, Option<Interval>)>> =
        r.ranked.iter().map(|c| order_key(c, by)).collect();
    let rows = r.ranked.len().max(1) as f64;
    let row_h = 28.0;
    let label_w = 260.0;
    let height = TOP + rows * row_h + BOTTOM;
    let mut out = String::new();
    header(&mut out, WIDTH, height, title);
    let top_value = keys
        .iter()
        .flatten()
        .map(|(v, iv)| iv.map_or(*v, |iv| iv.high.max(*v)))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let max = match by {
        // A criticality above the implausible bound is clipped, not drawn
        // as the longest bar.
        OrderBy::Criticality => top_value.clamp(1.2, IMPLAUSIBLE_CRITICALITY),
        OrderBy::Drop => top_value.max(0.05),
        OrderBy::Gain => top_value.max(1.0),
    };
    let x = Axis {
        low: 0.0,
        high: max,
        from_px: label_w,
        to_px: WIDTH - RIGHT - 90.0,
        log: false,
    };
    let y0 = TOP + rows * row_h;
    for t in x.ticks() {
        let px = x.px(t);
        let _ = writeln!(
            out,
            "<line x1=\"{px:.1}\" y1=\"{TOP:.1}\" x2=\"{px:.1}\" y2=\"{y0:.1}\" stroke=\"#dddddd\"/>\
             <text x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            y0 + 16.0,
            escape(&show(t))
        );
    }
    if by == OrderBy::Criticality {
        let _ = writeln!(
            out,
            "<line x1=\"{0:.1}\" y1=\"{TOP:.1}\" x2=\"{0:.1}\" y2=\"{y0:.1}\" stroke=\"{GREY}\" \
             stroke-dasharray=\"4 3\"/>",
            x.px(1.0)
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
        (x.from_px + x.to_px) / 2.0,
        y0 + 36.0,
        escape(axis_title)
    );
    for (i, (c, key)) in r.ranked.iter().zip(&keys).enumerate() {
        let top = TOP + i as f64 * row_h;
        let mid = top + row_h / 2.0;
        let label: String = c.label.chars().take(38).collect();
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{} {}</text>",
            label_w - 8.0,
            mid + 4.0,
            escape(&super::text::rank_cell(c, &r.ranked)),
            escape(&label)
        );
        let Some((value, interval)) = *key else {
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{GREY}\">not measured</text>",
                x.from_px + 4.0,
                mid + 4.0
            );
            continue;
        };
        let w = (x.px(value.clamp(0.0, max)) - x.from_px).max(0.0);
        let _ = writeln!(
            out,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{BLUE}\" \
             fill-opacity=\"0.75\"/>",
            x.from_px,
            top + 6.0,
            row_h - 12.0
        );
        if let Some(iv) = interval {
            let (a, b) = (x.px(iv.low.clamp(0.0, max)), x.px(iv.high.clamp(0.0, max)));
            let _ = writeln!(
                out,
                "<path d=\"M{a:.1},{:.1} L{a:.1},{:.1} M{a:.1},{mid:.1} L{b:.1},{mid:.1} \
                 M{b:.1},{:.1} L{b:.1},{:.1}\" stroke=\"black\" fill=\"none\"/>",
                mid - 5.0,
                mid + 5.0,
                mid - 5.0,
                mid + 5.0
            );
        }
        let above = value > max || interval.is_some_and(|iv| iv.high > max);
        let below = value < 0.0 || interval.is_some_and(|iv| iv.low < 0.0);
        if above {
            let _ = writeln!(
                out,
                "<text class=\"clipped\" x=\"{:.1}\" y=\"{:.1}\" fill=\"{RED}\" \
                 font-weight=\"bold\">»</text>",
                x.to_px + 2.0,
                mid + 4.0
            );
        }
        if below {
            let _ = writeln!(
                out,
                "<text class=\"clipped\" x=\"{:.1}\" y=\"{:.1}\" fill=\"{RED}\" \
                 font-weight=\"bold\" text-anchor=\"end\">«</text>",
                x.from_px - 1.0,
                mid + 4.0
            );
        }
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\">{}{}</text>",
            x.to_px + 14.0,
            mid + 4.0,
            escape(&show(value)),
            if implausible(c) {
                " (cannot be true)"
            } else {
                ""
            }
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::RankedCandidate;

    fn candidate(label: &str, drop: f64, crit: f64) -> RankedCandidate {
        RankedCandidate {
            rank: 0,
            label: label.to_owned(),
            patterns: vec![],
            drop,
            drop_interval: Some(Interval::new(drop - 0.01, drop + 0.01)),
            criticality: Some(crit),
            criticality_interval: Some(Interval::new(crit - 0.1, crit + 0.1)),
            calls_per_unit: 1.0,
            delay_ns: 1000,
            pairs_used: 6,
            tie_group: 0,
            tied: false,
            dose: None,
            measured: None,
            interaction: false,
            own_ns_per_unit: None,
            gain_ns_per_unit: None,
        }
    }

    fn ranking(ranked: Vec<RankedCandidate>, dose: Option<f64>) -> RankResult {
        RankResult {
            under: "__main__".into(),
            delay_ns: 10_000,
            dose,
            time_per_unit_s: None,
            design: None,
            frequency: 1,
            mode: crate::experiment::Mode::Live,
            ranked,
            verdicts: vec![],
            labels: vec![],
            spent_s: 1.0,
            partial: false,
        }
    }

    /// The bar widths in row order, and the rows' clip marks.
    fn bars(svg: &str) -> (Vec<f64>, usize) {
        let widths = svg
            .lines()
            .filter(|l| l.starts_with("<rect x=") && l.contains("fill-opacity"))
            .map(|l| {
                let w = l.split("width=\"").nth(1).unwrap_or("");
                w[..w.find('"').unwrap_or(0)].parse().unwrap_or(f64::NAN)
            })
            .collect();
        (widths, svg.matches("class=\"clipped\"").count())
    }

    #[test]
    fn bars_read_in_rank_order_and_a_clipped_bar_is_marked() {
        // Ranked by drop: criticality disagrees with the order (the bars once
        // drew criticality, so the second bar was the longest).
        let by_drop = crate::analysis::order_by(
            vec![
                candidate("a", 0.30, 0.5),
                candidate("b", 0.20, 1.4),
                candidate("c", 0.05, 0.9),
            ],
            OrderBy::Drop,
        );
        let (widths, clipped) = bars(&rank_svg(&ranking(by_drop, None), "t"));
        assert_eq!(widths.len(), 3);
        assert!(widths.windows(2).all(|w| w[0] >= w[1]), "{widths:?}");
        assert_eq!(clipped, 0);
        // At an equal dose by criticality, an implausible 22.72 is clipped at
        // the axis's end with a mark and its value, not the longest bar by far.
        let by_crit = crate::analysis::order_by_gain(vec![
            candidate("offpath", 0.01, 22.72),
            candidate("critical", 0.10, 0.95),
        ]);
        let svg = rank_svg(&ranking(by_crit, Some(0.1)), "t");
        let (widths, clipped) = bars(&svg);
        assert!(widths.windows(2).all(|w| w[0] >= w[1]), "{widths:?}");
        assert_eq!(clipped, 1, "{svg}");
        assert!(svg.contains("22.72 (cannot be true)"), "{svg}");
    }

    #[test]
    fn ticks_are_round() {
        let hundredths = |low, high| -> Vec<i64> {
            nice_ticks(low, high)
                .into_iter()
                .map(|t| (t * 100.0).round() as i64)
                .collect()
        };
        assert_eq!(hundredths(0.0, 1.2), [0, 20, 40, 60, 80, 100, 120]);
        assert_eq!(hundredths(0.4, 1.05), [40, 50, 60, 70, 80, 90, 100]);
    }
}
