//! Step 3: the subsystems the census found (top-level packages and
//! modules), ranked; bars fill in as evidence arrives.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Row, StatefulWidget, Table, TableState, Widget};

use super::common::pane_block;
use super::empty_state;
use crate::analysis::Candidate;
use crate::experiment::ExperimentKind;
use crate::tui::format;
use crate::tui::state::State;
use crate::tui::state::experiments::Measure;
use crate::tui::step::Pane;
use crate::tui::theme::Theme;

/// Draws step 3.
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let [settings, list] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(area);
    let theme = &state.theme;
    Line::from(vec![
        Span::styled(" rank at ", theme.dim()),
        Span::styled(format::delay(state.options.rank_delay_ns), theme.accent()),
        Span::styled(
            format!(
                "/call, every {}, budget {:.0} s (D f b)",
                match state.options.frequency {
                    1 => "call".to_owned(),
                    n => format!("{n}th"),
                },
                state.options.budget_s
            ),
            theme.dim(),
        ),
    ])
    .render(settings, buf);

    let candidates = state.subsystem_rows();
    // The census counts the functions called in its window at steady
    // state, fewer than step 0's count of every function since start.
    let census = state.census.as_ref().map(|c| {
        Span::styled(
            format!(
                "census: {} functions at steady state",
                c.tree.root.functions
            ),
            theme.dim(),
        )
    });
    let block = pane_block(state, Pane::Candidates, census);
    if candidates.is_empty() {
        let inner = block.inner(list);
        block.render(list, buf);
        let text = match &state.running {
            Some(r) if r.kind == ExperimentKind::Census => {
                "counting what runs (census at delay 0)…"
            }
            _ if state.census.is_some() => "the census saw no function (nothing matched)",
            _ => "Enter counts what runs, then ranks the subsystems it finds",
        };
        empty_state(state, inner, buf, vec![Line::from(text)]);
        return;
    }
    candidate_table(state, &candidates, Pane::Candidates, list, buf, block);
}

/// The candidates with share, bar and change; used by step 3 (and the
/// layout of step 4's detail follows it).
pub fn candidate_table(
    state: &State,
    candidates: &[Candidate],
    pane: Pane,
    area: Rect,
    buf: &mut Buffer,
    block: ratatui::widgets::Block<'_>,
) {
    let theme = &state.theme;
    let measures: Vec<Option<Measure>> =
        candidates.iter().map(|c| state.measure(&c.label)).collect();
    let max_drop = measures
        .iter()
        .flatten()
        .map(|m| m.drop_interval.map_or(m.drop, |i| i.high).max(m.drop))
        .fold(0.05, f64::max);
    let inner_w = block.inner(area).width as usize;
    // The change column holds `format::change` whole: up to 25 characters.
    let bar_w = inner_w.saturating_sub(3 + 24 + 6 + 25 + 2 + 5).clamp(6, 30);
    let rows: Vec<Row> = candidates
        .iter()
        .zip(&measures)
        .map(|(c, m)| candidate_row(theme, c, m.as_ref(), max_drop, bar_w))
        .collect();
    let len = rows.len();
    let table = Table::new(
        rows,
        [
            Constraint::Length(3),
            Constraint::Min(16),
            Constraint::Length(6),
            Constraint::Length(bar_w as u16),
            Constraint::Length(25),
            Constraint::Length(2),
        ],
    )
    .header(
        Row::new(vec![
            "#",
            "subsystem",
            "calls",
            // Never cut mid-word where the bar column is narrow (80×24).
            if bar_w >= "throughput drop".len() {
                "throughput drop"
            } else {
                "drop"
            },
            "change, 95%",
            "",
        ])
        .style(theme.dim()),
    )
    .row_highlight_style(theme.selected(true))
    .block(block);
    let mut ts = TableState::default();
    if len > 0 && state.focused(pane) {
        ts.select(Some(state.cursor(pane).min(len - 1)));
    }
    StatefulWidget::render(table, area, buf, &mut ts);
}

fn candidate_row<'a>(
    theme: &Theme,
    c: &Candidate,
    m: Option<&Measure>,
    max_drop: f64,
    bar_w: usize,
) -> Row<'a> {
    let share = format!("{:.0}%", c.share * 100.0);
    let Some(m) = m else {
        return Row::new(vec![
            Span::raw(""),
            Span::raw(c.label.clone()),
            Span::styled(share, theme.dim()),
            Span::styled("·".repeat(bar_w.min(3)), theme.dim()),
            Span::styled("not measured", theme.dim()),
            Span::raw(""),
        ]);
    };
    let (mark, _) = format::verdict_mark(m.verdict.as_ref());
    let rank = match (m.rank, m.tied) {
        (Some(r), true) => format!("{r}≈"),
        (Some(r), false) => r.to_string(),
        (None, _) => String::new(),
    };
    let bar_style = if m.drop > 0.0 {
        theme.bar()
    } else {
        theme.dim()
    };
    Row::new(vec![
        Span::raw(rank),
        Span::raw(c.label.clone()),
        Span::styled(share, theme.dim()),
        Span::styled(format::bar(m.drop / max_drop, bar_w), bar_style),
        Span::raw(format::change(m.drop, m.drop_interval)),
        Span::styled(
            mark,
            match m.verdict {
                Some(crate::analysis::Verdict::Precise { .. }) => theme.good(),
                Some(
                    crate::analysis::Verdict::TooNoisy { .. }
                    | crate::analysis::Verdict::NoCalls { .. },
                ) => theme.warn(),
                _ => theme.dim(),
            },
        ),
    ])
}
