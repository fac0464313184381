//! Step 4: the call tree from `*:*` down to single functions, with the
//! measured drop of each ranked node, and the current node's detail.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Row, StatefulWidget, Table, TableState, Widget, Wrap};

use super::common::pane_block;
use super::empty_state;
use crate::analysis::Verdict;
use crate::experiment::ExperimentKind;
use crate::tui::format;
use crate::tui::state::State;
use crate::tui::state::tree::{kind_tag, node_label};
use crate::tui::step::Pane;

/// Draws step 4.
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let Some(census) = &state.census else {
        let block = pane_block(state, Pane::Tree, None);
        let inner = block.inner(area);
        block.render(area, buf);
        let text = match &state.running {
            Some(r) if r.kind == ExperimentKind::Census => "counting what runs (census)…",
            _ => "No call tree yet: step 3 (Enter) counts what runs first.",
        };
        empty_state(state, inner, buf, vec![Line::from(text)]);
        return;
    };
    let [tree_area, detail_area] =
        Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
    let theme = &state.theme;
    let rows = state.drill.rows(&census.tree, &state.filter);
    let cursor = state.drill.cursor_index(&rows);
    let max_drop = rows
        .iter()
        .filter_map(|r| state.measure(&r.node.path))
        .map(|m| m.drop)
        .fold(0.05, f64::max);
    let table_rows: Vec<Row> = rows
        .iter()
        .map(|r| {
            let marker = if r.node.children.is_empty() {
                "  "
            } else if r.open {
                "▾ "
            } else {
                "▸ "
            };
            let name = format!("{}{marker}{}", "  ".repeat(r.depth), node_label(r.node));
            let measured = state.measure(&r.node.path);
            let (bar, change) = match &measured {
                Some(m) => (
                    Span::styled(format::bar(m.drop / max_drop, 6), theme.bar()),
                    Span::styled(
                        format::signed_percent(-m.drop),
                        if m.rank == Some(1) {
                            theme.bad()
                        } else {
                            theme.text()
                        },
                    ),
                ),
                None => (Span::raw(""), Span::raw("")),
            };
            Row::new(vec![
                Span::raw(name),
                Span::styled(kind_tag(r.node.kind), theme.dim()),
                Span::styled(crate::units::format_count(r.node.calls), theme.dim()),
                bar,
                change,
            ])
        })
        .collect();
    let filter = (!state.filter.is_empty())
        .then(|| Span::styled(format!("filter '{}'", state.filter), theme.dim()));
    let table = Table::new(
        table_rows,
        [
            Constraint::Fill(1),
            Constraint::Length(3),
            Constraint::Length(5),
            Constraint::Length(6),
            Constraint::Length(7),
        ],
    )
    .header(Row::new(vec!["node", "", "calls", "drop", ""]).style(theme.dim()))
    .row_highlight_style(theme.selected(state.focused(Pane::Tree)))
    .block(pane_block(state, Pane::Tree, filter));
    let mut ts = TableState::default();
    if !rows.is_empty() {
        ts.select(Some(cursor));
    }
    StatefulWidget::render(table, tree_area, buf, &mut ts);
    render_detail(state, detail_area, buf);
}

fn render_detail(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let Some(census) = &state.census else {
        return;
    };
    let block = pane_block(state, Pane::Detail, None);
    let Some(node) = census.tree.find(&state.drill.cursor) else {
        let inner = block.inner(area);
        block.render(area, buf);
        empty_state(state, inner, buf, vec![Line::from("no node")]);
        return;
    };
    let patterns = state.drill.patterns(&census.tree);
    let edited = state
        .drill
        .edited
        .as_ref()
        .is_some_and(|(p, _)| *p == state.drill.cursor);
    let name = if node.path.is_empty() {
        "*:* (everything)".to_owned()
    } else {
        node.path.clone()
    };
    let mut lines = vec![
        Line::from(Span::styled(name, theme.accent())),
        Line::from(Span::styled(
            format!(
                "{} · {} calls · {} functions",
                kind_tag(node.kind),
                crate::units::format_count(node.calls),
                node.functions
            ),
            theme.dim(),
        )),
        Line::from(Span::styled(
            if edited {
                "patterns (edited):"
            } else {
                "patterns:"
            },
            theme.dim(),
        )),
    ];
    lines.extend(
        patterns
            .iter()
            .map(|p| Line::from(Span::styled(format!("  {p}"), theme.text()))),
    );
    match state.measure(&node.path) {
        Some(m) => {
            let status = match (&m.verdict, m.rank) {
                (Some(Verdict::Precise { .. }), _) => "precise",
                (Some(Verdict::TooNoisy { .. }), _) => "too noisy",
                (Some(Verdict::NoCalls { .. }), _) => "matched no call",
                (_, Some(_)) => "done",
                _ => "measuring",
            };
            lines.push(Line::from(vec![
                Span::styled("drop ", theme.dim()),
                Span::styled(format::change(m.drop, m.drop_interval), theme.bad()),
            ]));
            let rank = m.rank.map_or(String::new(), |r| {
                format!("rank {r}{} · ", if m.tied { " (tied)" } else { "" })
            });
            let crit = m
                .criticality
                .map_or(String::new(), |c| format!(" · criticality {c:.2}"));
            let own = m.own_ns_per_unit.map_or(String::new(), |ns| {
                format!(" · own {}/unit", format::delay(ns.round() as u64))
            });
            lines.push(Line::from(Span::styled(
                format!(
                    "{rank}at {}/call{crit}{own} · {status}",
                    format::delay(m.delay_ns)
                ),
                theme.text(),
            )));
        }
        None => lines.push(Line::from(Span::styled("not measured yet", theme.dim()))),
    }
    lines.push(Line::from(Span::styled(
        format!(
            "delay {} · every {} · budget {:.0} s",
            format::delay(state.options.rank_delay_ns),
            match state.options.frequency {
                1 => "call".to_owned(),
                n => format!("{n}th call"),
            },
            state.options.budget_s
        ),
        theme.dim(),
    )));
    let action = if node.children.is_empty() {
        "r/s sweep it"
    } else {
        "r ranks its children · s sweeps it"
    };
    lines.push(Line::from(vec![
        Span::styled(action, theme.key()),
        Span::styled(" · e edit · a slow now", theme.dim()),
    ]));
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(block)
        .render(area, buf);
}
