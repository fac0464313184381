//! The `?` overlay: every key of the key table, in two columns (it fits
//! 80×24).

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Widget};

use super::common::centered;
use crate::tui::keys::BINDINGS;
use crate::tui::state::State;

/// Draws the help over `area`.
pub fn render(state: &State, area: Rect, buf: &mut Buffer) {
    let theme = &state.theme;
    let half = BINDINGS.len().div_ceil(2);
    let box_area = centered(area, 78, half as u16 + 3);
    Clear.render(box_area, buf);
    buf.set_style(box_area, theme.base());
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.border(true))
        .title(Span::styled(" Keys — any key closes ", theme.title(true)))
        .title_bottom(Span::styled(
            " the theme: --theme dark|light|high-contrast|FILE · NO_COLOR honoured ",
            theme.dim(),
        ));
    let inner = block.inner(box_area);
    block.render(box_area, buf);
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(inner);
    for (column, bindings) in [(left, &BINDINGS[..half]), (right, &BINDINGS[half..])] {
        let lines: Vec<Line> = bindings
            .iter()
            .map(|b| {
                Line::from(vec![
                    Span::styled(format!(" {:<8}", b.keys), theme.key()),
                    Span::styled(b.help, theme.text()),
                ])
            })
            .collect();
        Paragraph::new(lines).render(column, buf);
    }
}
