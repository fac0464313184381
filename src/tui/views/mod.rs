//! The screens: pure functions of the state (`impl Widget for &State`),
//! one module per step plus the frame around them (tabs, status, hints)
//! and the overlays (editor, help).
//!
//! | module | draws |
//! |---|---|
//! | [`live`] | throughput chart, patterns, functions, output |
//! | [`impact`] | step 1: delays table, throughput-vs-delay chart, verdict |
//! | [`gain`] | step 2: fit, predictions, caveat |
//! | [`subsystems`] | step 3: candidates with bars |
//! | [`drill`] | step 4: tree and node detail |
//! | [`report`] | step 5: findings and rankings |
//! | [`help`] | the key list |
//! | [`common`] | blocks, hints, spinners |

mod common;
mod drill;
mod gain;
mod help;
mod impact;
mod live;
pub mod report;
mod subsystems;

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget, Wrap};

use super::format;
use super::state::kind_name;
use super::state::{State, Tone};
use super::step::Step;
use common::{centered, hints, spinner};

/// Smallest screen drawn; below it a message asks for more room.
pub const MIN_WIDTH: u16 = 60;
/// Smallest screen height drawn.
pub const MIN_HEIGHT: u16 = 16;

impl Widget for &State {
    fn render(self, area: Rect, buf: &mut Buffer) {
        buf.set_style(area, self.theme.base());
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            let text = format!(
                "speedbump needs at least {MIN_WIDTH}×{MIN_HEIGHT} (80×24 is best); \
                 this terminal is {}×{}",
                area.width, area.height
            );
            Paragraph::new(text)
                .wrap(Wrap { trim: true })
                .render(area, buf);
            return;
        }
        // A notice (an export's file list, an error) is read whole: it
        // takes the rows it wraps to, up to three, from the body.
        let hint_rows = notice_paragraph(self).map_or(1, |p| {
            u16::try_from(p.line_count(area.width)).map_or(3, |n| n.clamp(1, 3))
        });
        let [header, body, status, hint] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Length(1),
            Constraint::Length(hint_rows),
        ])
        .areas(area);
        render_tabs(self, header, buf);
        match self.step {
            Step::Live => live::render(self, body, buf),
            Step::Impact => impact::render(self, body, buf),
            Step::Gain => gain::render(self, body, buf),
            Step::Subsystems => subsystems::render(self, body, buf),
            Step::DrillDown => drill::render(self, body, buf),
            Step::Report => report::render(self, body, buf),
        }
        render_status(self, status, buf);
        render_hints(self, hint, buf);
        if self.editor.is_some() {
            render_editor(self, body, buf);
        }
        if self.help {
            help::render(self, body, buf);
        }
    }
}

fn render_tabs(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let mut spans = vec![Span::styled(" speedbump ", theme.accent())];
    for step in Step::ALL.iter() {
        spans.push(Span::styled("│", theme.dim()));
        spans.push(Span::styled(
            format!(" {} ", step.title()),
            theme.tab(*step == state.step),
        ));
    }
    spans.push(Span::styled("│", theme.dim()));
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let room = (area.width as usize).saturating_sub(used + 2);
    if room > 12 {
        let command = if state.workload.command.is_empty() {
            state.options.command.join(" ")
        } else {
            state.workload.command.join(" ")
        };
        spans.push(Span::styled(
            format!("  {}", format::fit(&command, room)),
            theme.dim(),
        ));
    }
    Line::from(spans).render(area, buf);
}

fn render_status(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let mut spans = Vec::new();
    match &state.running {
        Some(r) => {
            let what = kind_name(r.kind);
            let cancel = if r.cancelling { " (cancelling)" } else { "" };
            spans.push(Span::styled(
                format!(
                    "{} {what} {:.0}/{:.0} s · {} pairs{cancel}",
                    spinner(state.ticks),
                    r.spent_s,
                    r.budget_s,
                    r.pairs
                ),
                theme.accent(),
            ));
        }
        None => spans.push(Span::styled("idle", theme.dim())),
    }
    if let Some(slowed) = state.live.slowed_per_s().filter(|r| *r > 0.0) {
        // Plain whenever the workload is slowed, above all between
        // experiments (a node applied with `a`, a process that missed the
        // idle settings).
        let style = if state.running.is_some() {
            theme.warn()
        } else {
            theme.bad()
        };
        spans.push(Span::styled(
            format!(" · SLOWING {} calls/s", format::format_rate(slowed)),
            style,
        ));
    }
    spans.push(Span::styled(" │ ", theme.dim()));
    spans.push(live::sparkline_span(state, 12));
    match state.live.rate() {
        Some(rate) => spans.push(Span::styled(
            format!(" {} {}/s", format::format_rate(rate), state.live.unit()),
            theme.text(),
        )),
        None => spans.push(Span::styled(" no throughput yet", theme.dim())),
    }
    if let Some(s) = &state.live.last {
        spans.push(Span::styled(
            format!(" │ {} proc", s.processes.live),
            theme.text(),
        ));
    }
    spans.push(Span::styled(" │ ", theme.dim()));
    let workload = &state.workload;
    if let Some(Some(error)) = &workload.finished {
        spans.push(Span::styled(format!("✗ {error}"), theme.bad()));
    } else if let Some(exit) = &workload.exit {
        let style = if exit.failed() {
            theme.bad()
        } else {
            theme.warn()
        };
        spans.push(Span::styled(
            format!("✗ workload {}", exit.describe()),
            style,
        ));
    } else if workload.finished.is_some() {
        spans.push(Span::styled("engine stopped", theme.dim()));
    } else if workload.starts == 0 {
        spans.push(Span::styled(
            format!("{} starting…", spinner(state.ticks)),
            theme.dim(),
        ));
    } else {
        let mode = match workload.mode {
            Some(crate::experiment::Mode::Restart) => "restart",
            Some(crate::experiment::Mode::Auto) => "auto",
            _ => "live",
        };
        spans.push(Span::styled(format!("● {mode}"), theme.good()));
    }
    Line::from(spans).render(area, buf);
}

/// The current notice, wrapped, in its tone.
fn notice_paragraph(state: &State) -> Option<Paragraph<'static>> {
    let theme = &state.theme;
    let notice = state.notice.as_ref()?;
    let style = match notice.tone {
        Tone::Info => theme.text(),
        Tone::Good => theme.good(),
        Tone::Warn => theme.warn(),
        Tone::Bad => theme.bad(),
    };
    Some(
        Paragraph::new(Line::from(Span::styled(notice.text.clone(), style)))
            .wrap(Wrap { trim: true }),
    )
}

fn render_hints(state: &State, area: Rect, buf: &mut Buffer) {
    if let Some(notice) = notice_paragraph(state) {
        notice.render(area, buf);
        return;
    }
    let pairs: &[(&str, &str)] = match state.step {
        Step::Live => &[
            ("→", "step 1"),
            ("Tab", "pane"),
            ("↑↓", "scroll"),
            ("/", "filter"),
        ],
        Step::Impact => &[
            ("Enter", "run sweep"),
            ("e", "delays"),
            ("c", "cancel"),
            ("→", "step 2"),
        ],
        Step::Gain => &[("↑↓", "scroll"), ("←", "step 1"), ("→", "step 3")],
        Step::Subsystems => &[
            ("Enter", "rank/open"),
            ("r", "rerun"),
            ("D", "delay"),
            ("→", "step 4"),
        ],
        Step::DrillDown => &[
            ("↑↓→←", "move"),
            ("r", "rank"),
            ("s", "sweep"),
            ("e", "edit"),
            ("a", "apply"),
        ],
        Step::Report => &[("x", "export"), ("↑↓", "scroll"), ("Tab", "pane")],
    };
    let mut all = pairs.to_vec();
    all.extend([("?", "help"), ("q", "quit")]);
    hints(state, &all).render(area, buf);
}

fn render_editor(state: &State, body: Rect, buf: &mut Buffer) {
    let Some(editor) = &state.editor else {
        return;
    };
    let theme = &state.theme;
    let width = body.width.saturating_sub(4).max(20);
    let area = Rect {
        x: body.x + (body.width - width) / 2,
        y: body.bottom().saturating_sub(3),
        width,
        height: 3.min(body.height),
    };
    Clear.render(area, buf);
    buf.set_style(area, theme.base());
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(true))
        .title(Span::styled(
            format!(" {} · Enter ok · Esc drop ", editor.field.prompt()),
            theme.title(true),
        ));
    if let Some(error) = &editor.error {
        block = block.title_bottom(Span::styled(format!(" {error} "), theme.bad()));
    }
    let (before, at, after) = editor.split_at_cursor();
    let line = Line::from(vec![
        Span::styled(before.to_owned(), theme.text()),
        Span::styled(at, theme.selected(true)),
        Span::styled(after.to_owned(), theme.text()),
    ]);
    Paragraph::new(line).block(block).render(area, buf);
}

/// The empty-state text of a pane, centred vertically.
pub fn empty_state(state: &State, area: Rect, buf: &mut Buffer, lines: Vec<Line<'_>>) {
    // Rows after wrapping (a line wider than the area takes several), so a
    // long message is never cut to its first row.
    let width = usize::from(area.width.max(1));
    let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(width)).sum();
    let height = u16::try_from(rows).unwrap_or(u16::MAX).min(area.height);
    let inner = centered(area, area.width, height);
    Paragraph::new(lines)
        .style(state.theme.dim())
        .wrap(Wrap { trim: true })
        .render(inner, buf);
}
