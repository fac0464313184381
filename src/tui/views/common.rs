//! Pieces every view uses: pane blocks, hints, spinners, placement.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders};

use crate::tui::state::State;
use crate::tui::step::Pane;

/// A bordered block for `pane`, its title styled by focus.
pub fn pane_block<'a>(state: &State, pane: Pane, extra: Option<Span<'a>>) -> Block<'a> {
    let focused = state.focused(pane);
    let theme = &state.theme;
    let mut title = vec![Span::styled(
        format!(" {} ", pane.title()),
        theme.title(focused),
    )];
    if let Some(extra) = extra {
        title.push(extra);
        title.push(Span::raw(" "));
    }
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(theme.border(focused))
        .title(Line::from(title))
}

/// A spinner frame for tick `n`.
pub fn spinner(n: u64) -> &'static str {
    const FRAMES: [&str; 4] = ["◐", "◓", "◑", "◒"];
    FRAMES[(n % 4) as usize]
}

/// Key hints: `key what` pairs, keys highlighted.
pub fn hints<'a>(state: &State, pairs: &[(&'a str, &'a str)]) -> Line<'a> {
    let theme = &state.theme;
    let mut spans = Vec::with_capacity(pairs.len() * 3);
    for (i, (key, what)) in pairs.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(*key, theme.key()));
        spans.push(Span::styled(format!(" {what}"), theme.dim()));
    }
    Line::from(spans)
}

/// A rectangle of at most `width` × `height` centred in `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}
