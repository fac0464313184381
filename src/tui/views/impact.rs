//! Step 1: slow everything at a few delays; the points and their intervals
//! on a throughput-vs-delay chart as evidence arrives; the verdict.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Chart, Dataset, GraphType, Paragraph, Row, StatefulWidget, Table, TableState, Widget,
    Wrap,
};

use super::common::pane_block;
use super::empty_state;
use crate::analysis::{Bottleneck, SweepPoint, Verdict};
use crate::experiment::ExperimentKind;
use crate::tui::format;
use crate::tui::state::State;
use crate::tui::step::Pane;
use crate::tui::theme::Theme;

/// Draws step 1.
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let [settings, middle, verdict] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(4),
    ])
    .areas(area);
    render_settings(state, settings, buf);
    let [table, chart] =
        Layout::horizontal([Constraint::Length(38), Constraint::Fill(1)]).areas(middle);
    render_table(state, table, buf);
    render_chart(state, chart, buf);
    render_verdict(state, verdict, buf);
}

fn render_settings(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let every = match state.options.frequency {
        1 => "every call".to_owned(),
        n => format!("every {n}th call"),
    };
    Line::from(vec![
        Span::styled(" slowing ", theme.dim()),
        Span::styled(state.sweep.patterns.join(" "), theme.accent()),
        Span::styled(" · delays ", theme.dim()),
        Span::styled(format::delays_text(&state.sweep.delays_ns), theme.text()),
        Span::styled(
            format!(" · {every} · budget {:.0} s", state.options.budget_s),
            theme.dim(),
        ),
    ])
    .render(area, buf);
}

/// Point and verdict for each delay the user picked (0 is the baseline).
fn evidence(state: &State) -> Vec<(u64, Option<&SweepPoint>, Option<&Verdict>)> {
    state
        .sweep
        .delays_ns
        .iter()
        .map(|&d| {
            let i = state.sweep.sent.iter().position(|&s| s == d);
            let point = i
                .and_then(|i| state.sweep.points.get(i))
                .and_then(Option::as_ref);
            let verdict = i
                .and_then(|i| state.sweep.verdicts.get(i))
                .and_then(Option::as_ref);
            (d, point, verdict)
        })
        .collect()
}

fn mark_style(theme: &Theme, verdict: Option<&Verdict>) -> Style {
    match verdict {
        Some(Verdict::Precise { .. }) => theme.good(),
        Some(Verdict::TooNoisy { .. } | Verdict::NoCalls { .. }) => theme.warn(),
        _ => theme.dim(),
    }
}

fn render_table(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let rows: Vec<Row> = evidence(state)
        .into_iter()
        .map(|(d, point, verdict)| {
            if d == 0 {
                return Row::new(vec![
                    Span::raw("0"),
                    Span::raw("1.000"),
                    Span::styled("baseline", theme.dim()),
                    Span::raw(""),
                    Span::raw(""),
                ]);
            }
            let (mark, _) = format::verdict_mark(verdict);
            let (rel, interval) = match point {
                Some(p) => (
                    format::ratio_short(p.relative.relative),
                    format::ratio_interval(p.relative.interval),
                ),
                None => ("-".into(), String::new()),
            };
            Row::new(vec![
                Span::raw(format::delay_short(d)),
                Span::raw(rel),
                Span::raw(interval),
                Span::raw(format::verdict_pairs(verdict).to_string()),
                Span::styled(mark, mark_style(theme, verdict)),
            ])
        })
        .collect();
    let len = rows.len();
    let table = Table::new(
        rows,
        [
            Constraint::Length(6),
            Constraint::Length(6),
            Constraint::Length(13),
            Constraint::Length(5),
            Constraint::Length(1),
        ],
    )
    .header(Row::new(vec!["delay", "rel.", "95% interval", "pairs", ""]).style(theme.dim()))
    .row_highlight_style(theme.selected(true))
    .block(pane_block(state, Pane::SweepTable, None));
    let mut ts = TableState::default();
    if state.focused(Pane::SweepTable) && len > 0 {
        ts.select(Some(state.cursor(Pane::SweepTable).min(len - 1)));
    }
    StatefulWidget::render(table, area, buf, &mut ts);
}

fn render_chart(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let block = pane_block(
        state,
        Pane::SweepChart,
        Some(Span::styled("(relative)", theme.dim())),
    );
    let evidence = evidence(state);
    let measured = evidence.iter().any(|(_, p, _)| p.is_some());
    if !measured {
        let inner = block.inner(area);
        block.render(area, buf);
        let text = if state
            .running
            .as_ref()
            .is_some_and(|r| r.kind == ExperimentKind::Sweep)
        {
            "measuring: points appear as pairs of windows come in"
        } else {
            "Enter runs the sweep: each delay is paired with a baseline window at delay 0, in random order"
        };
        empty_state(state, inner, buf, vec![Line::from(text)]);
        return;
    }
    let mut points = Vec::new();
    let mut intervals: Vec<[(f64, f64); 2]> = Vec::new();
    let mut low = 1.0f64;
    for (x, (d, point, _)) in evidence.iter().enumerate() {
        let x = x as f64;
        if *d == 0 {
            points.push((x, 1.0));
            continue;
        }
        if let Some(p) = point {
            points.push((x, p.relative.relative));
            low = low.min(p.relative.relative);
            if let Some(i) = p.relative.interval {
                intervals.push([(x, i.low), (x, i.high)]);
                low = low.min(i.low);
            }
        }
    }
    let y_low = ((low - 0.05) * 20.0).floor() / 20.0;
    let y_low = y_low.clamp(0.0, 0.95);
    let mut datasets: Vec<Dataset> = intervals
        .iter()
        .map(|segment| {
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(theme.interval())
                .data(segment)
        })
        .collect();
    datasets.push(
        Dataset::default()
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(theme.chart())
            .data(&points),
    );
    datasets.push(
        Dataset::default()
            .marker(Marker::Dot)
            .graph_type(GraphType::Scatter)
            .style(theme.accent())
            .data(&points),
    );
    let n = evidence.len().max(2);
    let x_labels: Vec<Line> = evidence
        .iter()
        .map(|(d, _, _)| Line::from(format::delay_short(*d)))
        .collect();
    Chart::new(datasets)
        .block(block)
        // The theme's background under the plot (a chart clears it to the
        // terminal's own otherwise).
        .style(theme.base())
        .x_axis(
            Axis::default()
                .bounds([0.0, (n - 1) as f64])
                .style(theme.dim())
                .labels(x_labels),
        )
        .y_axis(
            Axis::default()
                .bounds([y_low, 1.05])
                .style(theme.dim())
                .labels([Line::from(format!("{y_low:.2}")), Line::from("1.05")]),
        )
        .render(area, buf);
}

fn render_verdict(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let lines = match &state.sweep.result {
        Some(result) => {
            let style = match result.python.bottleneck {
                Bottleneck::Yes => theme.bad(),
                Bottleneck::No => theme.good(),
                Bottleneck::NotYet | Bottleneck::Inconclusive => theme.warn(),
            };
            let partial = if result.partial {
                " (partial: cancelled or cut short)"
            } else {
                ""
            };
            vec![
                Line::from(vec![
                    Span::styled(" Verdict: ", theme.title(true)),
                    Span::styled(result.python.message.clone(), style),
                ]),
                Line::from(Span::styled(
                    format!(
                        " {} · {:.0} s{partial} · → step 2 for the gain",
                        result.shape.reason, result.spent_s
                    ),
                    theme.dim(),
                )),
            ]
        }
        None => match &state.running {
            Some(r) if r.kind == ExperimentKind::Sweep => vec![Line::from(Span::styled(
                format!(
                    " Measuring: {} pairs in {:.0} of {:.0} s; the verdict comes when every \
                     delay is precise or the budget ends (c cancels, keeping what is measured).",
                    r.pairs, r.spent_s, r.budget_s
                ),
                theme.text(),
            ))],
            _ => vec![Line::from(Span::styled(
                " Does Python matter at all? Enter slows everything matched at each delay \
                 and reads the verdict: Python is, or is not, your bottleneck.",
                theme.dim(),
            ))],
        },
    };
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .render(area, buf);
}
