//! Step 2: the fit of throughput against delay and the extrapolated gain if
//! the matched code were faster, with its interval and the caveat.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap};

use super::common::pane_block;
use super::empty_state;
use crate::analysis::Shape;
use crate::analysis::extrapolate::sweep_baseline;
use crate::tui::format;
use crate::tui::state::State;
use crate::tui::step::Pane;

/// Draws step 2.
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let Some(result) = &state.sweep.result else {
        let block = pane_block(state, Pane::Fit, None);
        let inner = block.inner(area);
        block.render(area, buf);
        empty_state(
            state,
            inner,
            buf,
            vec![
                Line::from("No fit yet: run step 1 first (→ or 1, then Enter)."),
                Line::from("Its points give the slope of throughput against delay,"),
                Line::from("extrapolated backwards to a speed-up."),
            ],
        );
        return;
    };
    let theme = &state.theme;
    let caveat_paragraph = caveat(state, result);
    // The caveat is read whole: it gets the rows it wraps to, taken from
    // the predictions table (which keeps its header and a few rows).
    let caveat_rows = u16::try_from(caveat_paragraph.line_count(area.width))
        .unwrap_or(u16::MAX)
        .min(area.height.saturating_sub(FIT_ROWS + MIN_TABLE_ROWS))
        .max(1);
    let [fit, predictions, caveat_area] = Layout::vertical([
        Constraint::Length(FIT_ROWS),
        Constraint::Fill(1),
        Constraint::Length(caveat_rows),
    ])
    .areas(area);

    let shape = match result.shape.shape {
        Shape::None => "none: throughput did not move".to_owned(),
        Shape::Linear => "linear: every call is on the critical path".to_owned(),
        Shape::SubLinear => "sub-linear: some calls are hidden behind other work".to_owned(),
        Shape::Threshold { knee_ns } => format!(
            "threshold: flat until ≈{} per call, then drops",
            format::delay(knee_ns.max(0.0) as u64)
        ),
    };
    let mut lines = vec![Line::from(vec![
        Span::styled("shape  ", theme.dim()),
        Span::styled(shape, theme.accent()),
    ])];
    if let Some(fit) = result.shape.slope_at_zero.or(result.shape.fit) {
        let chi = fit
            .reduced_chi2()
            .map_or(String::new(), |c| format!(" · χ²/dof {c:.2}"));
        lines.push(Line::from(vec![
            Span::styled("slope  ", theme.dim()),
            Span::styled(
                format!(
                    "criticality {:.2} [{:.2}, {:.2}] from {} points{chi}",
                    fit.slope, fit.interval.low, fit.interval.high, fit.points
                ),
                theme.text(),
            ),
        ]));
    }
    let points: Vec<_> = result.points.iter().flatten().copied().collect();
    if let Some((t0, calls)) = sweep_baseline(&points) {
        lines.push(Line::from(vec![
            Span::styled("base   ", theme.dim()),
            Span::styled(
                format!(
                    "{} {}/s · {:.1} matched calls per unit · {}",
                    format::format_rate(1.0 / t0),
                    state.live.unit(),
                    calls,
                    result
                        .own_time
                        .map_or("own time not measured".to_owned(), |o| {
                            format!(
                                "own {} per call",
                                format::delay(o.ns_per_call.round() as u64)
                            )
                        })
                ),
                theme.text(),
            ),
        ]));
    }
    lines.push(Line::from(Span::styled(
        result.shape.reason.clone(),
        theme.dim(),
    )));
    Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .block(pane_block(state, Pane::Fit, None))
        .render(fit, buf);

    let rows: Vec<Row> = result
        .predictions
        .iter()
        .map(|p| {
            let interval = format::signed_interval(p.gain_interval);
            let style = if p.within_first_order {
                theme.text()
            } else {
                theme.warn()
            };
            Row::new(vec![
                Span::raw(format!(
                    "{} faster",
                    format::delay(p.faster_ns_per_call as u64)
                )),
                Span::styled(
                    format!(
                        "{}{}",
                        if p.capped { "≤" } else { "" },
                        format::signed_percent(p.gain)
                    ),
                    theme.accent(),
                ),
                Span::raw(interval),
                Span::raw(format!(
                    "{} → {}",
                    format::format_rate(p.baseline_throughput_per_s),
                    format::format_rate(p.predicted_throughput_per_s)
                )),
                Span::styled(if p.within_first_order { "" } else { "!" }, style),
            ])
        })
        .collect();
    let len = rows.len();
    let table = Table::new(
        rows,
        [
            Constraint::Length(16),
            Constraint::Length(8),
            Constraint::Length(18),
            Constraint::Fill(1),
            Constraint::Length(1),
        ],
    )
    .header(Row::new(vec!["per call", "gain", "95% interval", "throughput", ""]).style(theme.dim()))
    .row_highlight_style(theme.selected(true))
    .block(pane_block(state, Pane::Predictions, None));
    let mut ts = TableState::default();
    if len > 0 && state.focused(Pane::Predictions) {
        ts.select(Some(state.cursor(Pane::Predictions).min(len - 1)));
    }
    if len == 0 {
        let block = pane_block(state, Pane::Predictions, None);
        let inner = block.inner(predictions);
        block.render(predictions, buf);
        empty_state(
            state,
            inner,
            buf,
            vec![Line::from(crate::report::text::no_prediction_reason(
                result,
            ))],
        );
    } else {
        StatefulWidget::render(table, predictions, buf, &mut ts);
    }

    caveat_paragraph.render(caveat_area, buf);
}

/// Rows of the fit pane.
const FIT_ROWS: u16 = 7;
/// Rows the predictions table keeps however long the caveat is: borders,
/// header and two predictions.
const MIN_TABLE_ROWS: u16 = 5;

/// The caveat every prediction carries (and, when the code's own time was
/// not measured, that the speed-ups are not capped), what a gain marked `≤`
/// means (capped at the code's own time per call), and, when some rows are
/// marked `!` (beyond first order), what that mark means; the words are
/// the CLI's and the report's.
fn caveat<'a>(state: &State, result: &crate::experiment::SweepResult) -> Paragraph<'a> {
    use crate::analysis::extrapolate::FIRST_ORDER_CAVEAT;
    let theme = &state.theme;
    let mut caveat = vec![
        Span::styled("Caveat: ", theme.warn()),
        Span::styled(FIRST_ORDER_CAVEAT, theme.dim()),
    ];
    if result.own_time.is_none() && !result.predictions.is_empty() {
        // In the caveat's paragraph: at 80×24 it then takes one row more,
        // and every prediction keeps its row.
        caveat.extend([
            Span::styled(". ", theme.dim()),
            Span::styled("Own time: ", theme.warn()),
            Span::styled(
                format!("{}.", crate::report::text::own_time_sentence(result)),
                theme.dim(),
            ),
        ]);
    }
    let mut lines = vec![Line::from(caveat)];
    if let Some(cap) = result
        .predictions
        .iter()
        .find_map(crate::report::text::cap_clause)
    {
        lines.push(Line::from(vec![
            Span::styled("≤ ", theme.warn()),
            Span::styled(format!("{cap}."), theme.dim()),
        ]));
    }
    if let Some(beyond) = result.predictions.iter().find(|p| !p.within_first_order) {
        let why = beyond
            .caveat
            .strip_prefix(FIRST_ORDER_CAVEAT)
            .unwrap_or(&beyond.caveat)
            .trim_start_matches([';', ' ']);
        lines.push(Line::from(vec![
            Span::styled("! ", theme.warn()),
            Span::styled(format!("{why}."), theme.dim()),
        ]));
    }
    Paragraph::new(lines).wrap(Wrap { trim: true })
}
