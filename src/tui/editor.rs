//! A one-line text editor for the fields the user types: delays, a
//! pattern, a delay, a frequency, a budget, the filter.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What is being edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Step 1's delays, comma-separated (`0, 1us, 10us, 100us`).
    Delays,
    /// The patterns of step 4's node, space-separated.
    Pattern,
    /// Delay per call for rankings and apply.
    Delay,
    /// Every Nth call.
    Frequency,
    /// Time budget of an experiment.
    Budget,
    /// The list filter.
    Filter,
    /// Step 0's progress point (`module:qualname`).
    ProgressPoint,
    /// Step 0's output regex (group 1: the rate the workload prints).
    ProgressRegex,
}

impl Field {
    /// The prompt shown before the text.
    pub fn prompt(self) -> &'static str {
        match self {
            Field::Delays => "delays (e.g. 0, 1us, 10us, 100us)",
            Field::Pattern => "patterns, space-separated (pkg.mod:*, !excludes)",
            Field::Delay => "delay per call (e.g. 10us)",
            Field::Frequency => "delay every Nth call",
            Field::Budget => "budget per experiment (e.g. 60s)",
            Field::Filter => "filter",
            Field::ProgressPoint => "progress point, called once per unit (module:qualname)",
            Field::ProgressRegex => "output regex, group 1 = units/s",
        }
    }
}

/// What a key did to the editor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// Still editing (the text may have changed).
    Editing,
    /// Enter: take the text.
    Submit,
    /// Esc: drop it.
    Cancel,
}

/// A line of text with a cursor (a char index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Editor {
    /// What is being edited.
    pub field: Field,
    /// The text.
    pub text: String,
    /// Cursor position in chars, `0..=len`.
    pub cursor: usize,
    /// Why the last submitted text was refused, if it was.
    pub error: Option<String>,
}

impl Editor {
    /// An editor on `field` holding `text`, cursor at the end.
    pub fn new(field: Field, text: impl Into<String>) -> Editor {
        let text = text.into();
        let cursor = text.chars().count();
        Editor {
            field,
            text,
            cursor,
            error: None,
        }
    }

    fn byte_at(&self, char_index: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_index)
            .map_or(self.text.len(), |(i, _)| i)
    }

    /// Applies one key.
    pub fn handle(&mut self, key: &KeyEvent) -> Edit {
        if key.kind == KeyEventKind::Release {
            return Edit::Editing;
        }
        let len = self.text.chars().count();
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter => return Edit::Submit,
            KeyCode::Esc => return Edit::Cancel,
            KeyCode::Char('c') if ctrl => return Edit::Cancel,
            KeyCode::Char('u') if ctrl => {
                self.text.clear();
                self.cursor = 0;
            }
            KeyCode::Char('a') if ctrl => self.cursor = 0,
            KeyCode::Char('e') if ctrl => self.cursor = len,
            KeyCode::Char(c) if !ctrl => {
                let at = self.byte_at(self.cursor);
                self.text.insert(at, c);
                self.cursor += 1;
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Delete if self.cursor < len => {
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(len),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = len,
            _ => {}
        }
        self.error = None;
        Edit::Editing
    }

    /// The text split at the cursor: before, the char under it (a space at
    /// the end), after.
    pub fn split_at_cursor(&self) -> (&str, String, &str) {
        let at = self.byte_at(self.cursor);
        let (before, rest) = self.text.split_at(at);
        let mut chars = rest.chars();
        match chars.next() {
            Some(c) => (before, c.to_string(), chars.as_str()),
            None => (before, " ".to_owned(), ""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn edits_in_the_middle_with_multibyte_text() {
        let mut e = Editor::new(Field::Delay, "1µs");
        assert_eq!(e.cursor, 3);
        e.handle(&key(KeyCode::Left));
        e.handle(&key(KeyCode::Backspace));
        assert_eq!(e.text, "1s");
        e.handle(&key(KeyCode::Char('0')));
        assert_eq!(e.text, "10s");
        assert_eq!(e.split_at_cursor(), ("10", "s".to_owned(), ""));
        assert_eq!(e.handle(&key(KeyCode::Enter)), Edit::Submit);
        e.handle(&key(KeyCode::End));
        e.handle(&key(KeyCode::Delete));
        assert_eq!(e.text, "10s");
        assert_eq!(e.handle(&key(KeyCode::Esc)), Edit::Cancel);
    }
}
