//! Step 5: the findings and every ranking (the most recent first), as the
//! exported report has them; `x` writes it.

use crate::report::text;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::common::pane_block;
use super::empty_state;
use crate::tui::format;
use crate::tui::state::State;
use crate::tui::step::Pane;

/// Draws step 5.
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let [summary, ranking] =
        Layout::vertical([Constraint::Length(6), Constraint::Fill(1)]).areas(area);
    render_summary(state, summary, buf);
    render_ranking(state, ranking, buf);
}

pub use crate::analysis::criticality::{IMPLAUSIBLE_CRITICALITY, implausible};

/// Whether an interval excludes zero (the effect is measurable).
fn excludes_zero(interval: Option<crate::analysis::Interval>) -> bool {
    interval.is_some_and(|i| i.low > 0.0 || i.high < 0.0)
}

/// The findings in plain sentences (also the report's opening): one per
/// ranking (every one, the most recent first), then steps 1 and 2. A
/// headline names only a cost whose interval excludes zero and which is
/// plausible; otherwise it says that nothing measurable was found.
pub fn findings(state: &State) -> Vec<String> {
    let results = &state.results;
    let mut out = Vec::new();
    for ranking in &results.rankings {
        let under = if ranking.under == "*" || ranking.under.is_empty() {
            "At the top level".to_owned()
        } else {
            format!("Under {}", ranking.under)
        };
        let delay = format::delay(ranking.delay_ns);
        let headline = ranking
            .ranked
            .iter()
            .find(|c| c.drop > 0.0 && excludes_zero(c.drop_interval) && !implausible(c));
        match headline {
            Some(c) => out.push(format!(
                "{under}, slowing {} costs the most throughput: {} at {delay} per call{}.",
                c.label,
                format::change(c.drop, c.drop_interval),
                if c.tied { " (tied with the next)" } else { "" }
            )),
            None => out.push(format!(
                "{under}, no candidate measurably costs throughput at {delay} per call \
                 (every interval spans 0, or the candidate was not ranked)."
            )),
        }
        for c in ranking.ranked.iter().filter(|c| implausible(c)) {
            out.push(format!(
                "{under}, {} measured a criticality of {:.2}, which cannot be true (above \
                 {IMPLAUSIBLE_CRITICALITY}): check the progress signal; it is not a finding.",
                c.label,
                c.criticality.unwrap_or(0.0)
            ));
        }
    }
    if let Some(sweep) = results.sweeps.last() {
        out.push(format!(
            "Step 1 ({}): {}",
            sweep.patterns.join(" "),
            sweep.python.message
        ));
        let step2 = sweep
            .predictions
            .first()
            .map_or_else(|| text::no_prediction_reason(sweep), text::step2_sentence);
        out.push(format!("Step 2: {step2}."));
        if !sweep.predictions.is_empty() {
            out.push(format!("Own time: {}.", text::own_time_sentence(sweep)));
        }
    }
    out
}

fn render_summary(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let block = pane_block(state, Pane::Summary, None);
    let findings = findings(state);
    if findings.is_empty() {
        let inner = block.inner(area);
        block.render(area, buf);
        empty_state(
            state,
            inner,
            buf,
            vec![Line::from(
                "Nothing measured yet: run step 1, then steps 3-4.",
            )],
        );
        return;
    }
    let lines: Vec<Line> = findings
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            Line::from(Span::styled(
                f,
                if i == 0 { theme.accent() } else { theme.text() },
            ))
        })
        .collect();
    Paragraph::new(lines)
        .wrap(Wrap { trim: true })
        .block(block)
        .render(area, buf);
}

/// Every ranking as text lines: a heading, then one line per candidate.
pub fn ranking_lines(state: &State, width: usize) -> Vec<Line<'static>> {
    let theme = &state.theme;
    let mut lines = Vec::new();
    for ranking in &state.results.rankings {
        let partial = if ranking.partial { " · partial" } else { "" };
        let own = if ranking.ranked.iter().any(|c| c.own_ns_per_unit.is_some()) {
            " · own: own time per unit"
        } else {
            ""
        };
        lines.push(Line::from(Span::styled(
            format!(
                "under {} · {} per call · {:.0} s{partial}{own}",
                ranking.under,
                format::delay(ranking.delay_ns),
                ranking.spent_s
            ),
            theme.title(false),
        )));
        let label_w = width.saturating_sub(4 + 23 + 12 + 8 + 13).max(12);
        for c in &ranking.ranked {
            let rank = format!(
                "{}{}",
                crate::analysis::shown_rank(c, &ranking.ranked),
                if c.tied { "≈" } else { " " }
            );
            let crit = c
                .criticality
                .map_or("      -".into(), |k| format!("{k:>7.2}"));
            let style = if c.rank == 1 {
                theme.accent()
            } else {
                theme.text()
            };
            lines.push(Line::from(vec![
                Span::styled(format!("{rank:>3} "), theme.dim()),
                Span::styled(
                    format!("{:<label_w$}", format::fit_left(&c.label, label_w)),
                    style,
                ),
                Span::raw(format!(" {:<22}", format::change(c.drop, c.drop_interval))),
                Span::styled(format!(" crit{crit}"), theme.dim()),
                Span::styled(
                    format!(
                        " own {:>8}",
                        c.own_ns_per_unit
                            .map_or("-".to_owned(), |ns| format::delay(ns.round() as u64))
                    ),
                    theme.dim(),
                ),
                Span::styled(format!(" {:>3}p", c.pairs_used), theme.dim()),
            ]));
        }
        for line in crate::report::text::own_time_order_lines(ranking) {
            lines.push(Line::from(Span::styled(line, theme.dim())));
        }
        lines.push(Line::from(""));
    }
    lines
}

fn render_ranking(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let extra = Span::styled(
        format!("x exports to {}/", state.options.export_dir.display()),
        theme.dim(),
    );
    let block = pane_block(state, Pane::Ranking, Some(extra));
    let inner = block.inner(area);
    block.render(area, buf);
    let lines = ranking_lines(state, inner.width as usize);
    if lines.is_empty() {
        empty_state(
            state,
            inner,
            buf,
            vec![Line::from(
                "No ranking yet: step 3 ranks subsystems, step 4 their parts.",
            )],
        );
        return;
    }
    let top = state
        .cursor(Pane::Ranking)
        .min(lines.len().saturating_sub(inner.height as usize));
    Paragraph::new(lines)
        .scroll((top as u16, 0))
        .render(inner, buf);
}
