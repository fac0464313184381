//! The live view: throughput over time, hit counts per pattern and per
//! function, and the workload's output (kept in its own pane).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Axis, Block, Chart, Dataset, GraphType, Paragraph, Row, StatefulWidget, Table, TableState,
    Widget,
};

use super::common::pane_block;
use super::empty_state;
use crate::tui::format;
use crate::tui::state::live::{progress_suggestions, suggested_points};
use crate::tui::state::{State, kind_name};
use crate::tui::step::Pane;

/// Draws the live view.
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let chart_h = (area.height * 2 / 5).max(7);
    let output_h = (area.height.saturating_sub(chart_h) / 2).max(5);
    let [chart, tables, output] = Layout::vertical([
        Constraint::Length(chart_h),
        Constraint::Fill(1),
        Constraint::Length(output_h),
    ])
    .areas(area);
    render_chart(state, chart, buf);
    let [patterns, functions] =
        Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(58)]).areas(tables);
    render_patterns(state, patterns, buf);
    render_functions(state, functions, buf);
    render_output(state, output, buf);
}

/// The last `width` throughput samples as a text sparkline.
pub fn sparkline_span(state: &State, width: usize) -> Span<'static> {
    const LEVELS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let history = &state.live.history;
    let values: Vec<f64> = history
        .iter()
        .skip(history.len().saturating_sub(width))
        .map(|(_, v)| *v)
        .collect();
    let max = values.iter().copied().fold(0.0, f64::max);
    let mut text: String = values
        .iter()
        .map(|v| {
            if max > 0.0 {
                LEVELS[((v / max) * 7.0).round().clamp(0.0, 7.0) as usize]
            } else {
                LEVELS[0]
            }
        })
        .collect();
    let pad = width.saturating_sub(text.chars().count());
    text.insert_str(0, &" ".repeat(pad));
    Span::styled(text, state.theme.chart())
}

/// The throughput pane's title: the rate and its unit, which source it
/// comes from when `with_source` (a chosen point or regex), processes and
/// uptime; led by `SLOWED` whenever anything is slowed.
fn chart_title(state: &State, with_source: bool) -> Span<'static> {
    let theme = &state.theme;
    let live = &state.live;
    let source = live
        .source_words()
        .filter(|_| with_source)
        .map_or(String::new(), |w| format!(" {w}"));
    let title = match (live.rate(), &live.last) {
        (Some(rate), Some(s)) => Span::styled(
            format!(
                "{} {}/s{source} · {} processes · up {}",
                format::format_rate(rate),
                live.unit(),
                s.processes.live,
                format::seconds(s.elapsed_s)
            ),
            theme.accent(),
        ),
        (None, Some(s)) => Span::styled(
            format!(
                "{} processes · up {}",
                s.processes.live,
                format::seconds(s.elapsed_s)
            ),
            theme.text(),
        ),
        _ => Span::styled("waiting for the workload", theme.dim()),
    };
    match live.slowed_per_s().filter(|r| *r > 0.0) {
        // Step 0 says plainly when the throughput it shows is slowed.
        Some(slowed) => Span::styled(
            format!(
                "SLOWED {} calls/s · {}",
                format::format_rate(slowed),
                title.content
            ),
            theme.bad(),
        ),
        None => title,
    }
}

fn render_chart(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let live = &state.live;
    // The source's words go first when the title has no room for them
    // (borders, the pane's name and a space around it).
    let room = usize::from(area.width).saturating_sub(Pane::Throughput.title().len() + 5);
    let title = Some(chart_title(state, true))
        .filter(|t| t.width() <= room)
        .unwrap_or_else(|| chart_title(state, false));
    let block = pane_block(state, Pane::Throughput, Some(title));
    if live.history.len() < 2 {
        let inner = block.inner(area);
        block.render(area, buf);
        let suggestions = progress_suggestions(live, &state.output);
        let text = if live.last.is_none() {
            vec![Line::from("starting the workload…")]
        } else if suggestions.is_empty() {
            vec![
                Line::from("no throughput yet: the workload reports none so far."),
                Line::from(vec![
                    Span::styled("p", theme.key()),
                    Span::raw(" sets a progress point (MOD:QUALNAME), "),
                    Span::styled("R", theme.key()),
                    Span::raw(" an output regex, now,"),
                ]),
                Line::from("without a restart; or call speedbump.progress() in the"),
                Line::from("workload."),
            ]
        } else {
            // The census needs no throughput; the sweeps and rankings do.
            // A suggestion is always led by the output's rate line.
            let mut text = vec![Line::from(
                "no throughput yet; steps 1-4 need a progress source:",
            )];
            text.extend(suggestions.into_iter().map(Line::from));
            if suggested_points(live, &state.output).is_empty() {
                text.push(Line::from(vec![
                    Span::styled("R", theme.key()),
                    Span::raw(" takes the rate line now, without a restart; "),
                    Span::styled("p", theme.key()),
                    Span::raw(" sets a point, typed"),
                ]));
            } else {
                text.push(Line::from(vec![
                    Span::styled("p", theme.key()),
                    Span::raw(" takes the suggested progress point, "),
                    Span::styled("R", theme.key()),
                    Span::raw(" the rate line, now, without a restart"),
                ]));
            }
            text
        };
        empty_state(state, inner, buf, text);
        return;
    }
    let data: Vec<(f64, f64)> = live.history.iter().copied().collect();
    let t_end = data.last().map_or(0.0, |d| d.0);
    let t_start = (t_end - 60.0).max(data.first().map_or(0.0, |d| d.0));
    let visible: Vec<(f64, f64)> = data.into_iter().filter(|d| d.0 >= t_start).collect();
    let y_max = visible.iter().map(|d| d.1).fold(0.0, f64::max).max(1e-9) * 1.15;
    let dataset = Dataset::default()
        .marker(Marker::Braille)
        .graph_type(GraphType::Line)
        .style(theme.chart())
        .data(&visible);
    Chart::new(vec![dataset])
        .block(block)
        // The theme's background under the plot (a chart clears it to the
        // terminal's own otherwise).
        .style(theme.base())
        .x_axis(
            Axis::default()
                .bounds([t_start, t_end.max(t_start + 1.0)])
                .style(theme.dim())
                .labels([
                    Line::from(format::seconds(t_start)),
                    Line::from(format::seconds(t_end)),
                ]),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, y_max])
                .style(theme.dim())
                .labels([Line::from("0"), Line::from(format::format_rate(y_max))]),
        )
        .render(area, buf);
}

/// A pane's table under its column headers, the cursor's row highlighted
/// while the pane has focus.
fn render_pane_table(
    state: &State,
    pane: Pane,
    block: Block,
    rows: Vec<Row>,
    columns: [(&'static str, Constraint); 3],
    area: Rect,
    buf: &mut Buffer,
) {
    let len = rows.len();
    let mut selection = TableState::default();
    if len > 0 && state.focused(pane) {
        selection.select(Some(state.cursor(pane).min(len - 1)));
    }
    let table = Table::new(rows, columns.map(|(_, width)| width))
        .header(Row::new(columns.map(|(name, _)| name)).style(state.theme.dim()))
        .row_highlight_style(state.theme.selected(true))
        .block(block);
    StatefulWidget::render(table, area, buf, &mut selection);
}

fn render_patterns(state: &State, area: Rect, buf: &mut Buffer) {
    // What the rows are: the settings in force now, never a leftover
    // candidate shown as if it were still tried. Between experiments the
    // idle settings only count calls (the last census's patterns at delay
    // 0); an experiment sets its own.
    let theme = &state.theme;
    let applied = match (&state.running, state.live.slowed_per_s()) {
        (_, None) => None,
        (Some(r), _) => Some(Span::styled(
            format!("set by the {}", kind_name(r.kind)),
            theme.warn(),
        )),
        (None, Some(slowed)) if slowed > 0.0 => Some(Span::styled("SLOWING", theme.bad())),
        (None, Some(_)) => Some(Span::styled("counting only", theme.dim())),
    };
    let block = pane_block(state, Pane::Patterns, applied);
    let Some(snapshot) = &state.live.last else {
        let inner = block.inner(area);
        block.render(area, buf);
        empty_state(state, inner, buf, vec![Line::from("no hooked process yet")]);
        return;
    };
    let rows: Vec<Row> = snapshot
        .patterns
        .iter()
        .map(|p| {
            let rate = p
                .rates
                .map_or("-".into(), |r| format::format_rate(r.calls_per_s));
            let delayed = p
                .rates
                .map_or("-".into(), |r| format::format_rate(r.delayed_calls_per_s));
            let name = if p.exclude {
                format!("!{}", p.pattern)
            } else {
                p.pattern.clone()
            };
            Row::new(vec![name, rate, delayed])
        })
        .collect();
    let columns = [
        ("pattern", Constraint::Fill(1)),
        ("calls/s", Constraint::Length(7)),
        ("slowed/s", Constraint::Length(8)),
    ];
    render_pane_table(state, Pane::Patterns, block, rows, columns, area, buf);
}

fn render_functions(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let filter = state.filter.to_lowercase();
    let extra = state.live.last.as_ref().map(|s| {
        let shown = if filter.is_empty() {
            // Every function called since the workload started (imports and
            // start-up included), where step 3's census counts only those
            // called in its window at steady state.
            format!(
                "top {} of {} since start",
                s.functions.len(),
                s.functions_total
            )
        } else {
            format!("filter '{}'", state.filter)
        };
        Span::styled(shown, theme.dim())
    });
    let block = pane_block(state, Pane::Functions, extra);
    let Some(snapshot) = &state.live.last else {
        let inner = block.inner(area);
        block.render(area, buf);
        empty_state(state, inner, buf, vec![Line::from("no calls counted yet")]);
        return;
    };
    let rows: Vec<Row> = snapshot
        .functions
        .iter()
        .filter(|f| filter.is_empty() || f.name.to_lowercase().contains(&filter))
        .map(|f| {
            let rate = f
                .rates
                .map_or("-".into(), |r| format::format_rate(r.calls_per_s));
            Row::new(vec![f.name.clone(), rate, f.processes.to_string()])
        })
        .collect();
    let columns = [
        ("function", Constraint::Fill(1)),
        ("calls/s", Constraint::Length(7)),
        ("proc", Constraint::Length(4)),
    ];
    render_pane_table(state, Pane::Functions, block, rows, columns, area, buf);
}

fn render_output(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let exit = state.workload.exit.as_ref();
    let extra = exit.map(|e| {
        let style = if e.failed() {
            theme.bad()
        } else {
            theme.warn()
        };
        Span::styled(format!("workload {}", e.describe()), style)
    });
    let block = pane_block(state, Pane::Output, extra);
    let inner = block.inner(area);
    block.render(area, buf);
    let height = inner.height as usize;
    let mut lines: Vec<(String, Style)> = state
        .output
        .lines
        .iter()
        .map(|(l, err)| (l.clone(), if *err { theme.warn() } else { theme.text() }))
        .collect();
    if let Some(exit) = exit {
        // The engine's last lines, when they are not already the log's end.
        let tail_known = exit
            .last_lines
            .last()
            .is_some_and(|last| state.output.lines.back().is_some_and(|(l, _)| l == last));
        if !tail_known {
            lines.extend(exit.last_lines.iter().map(|l| (l.clone(), theme.text())));
        }
        let style = if exit.failed() {
            theme.bad()
        } else {
            theme.warn()
        };
        lines.push((format!("── workload {} ──", exit.describe()), style));
    }
    if lines.is_empty() {
        empty_state(state, inner, buf, vec![Line::from("no output yet")]);
        return;
    }
    let back = state
        .cursor(Pane::Output)
        .min(lines.len().saturating_sub(1));
    let end = lines.len() - back;
    let start = end.saturating_sub(height);
    let shown: Vec<Line> = lines[start..end]
        .iter()
        .map(|(l, s)| Line::from(Span::styled(format::fit(l, inner.width as usize), *s)))
        .collect();
    Paragraph::new(shown).render(inner, buf);
}
