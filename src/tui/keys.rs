//! Keys: one table maps key codes to actions and is also what the `?` help
//! screen lists, so the help can never forget a key.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What a key asks for. The state decides what it means where the focus is
/// (`Left` is "previous step" in most panes and "collapse" in the tree).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stop the workload and leave.
    Quit,
    /// Show or hide the key list.
    Help,
    /// Close the help, an editor or the filter; otherwise nothing.
    Back,
    /// The step's main action (run, open a node).
    Enter,
    /// Cursor up / scroll up.
    Up,
    /// Cursor down / scroll down.
    Down,
    /// Previous step (tree: collapse or go to the parent).
    Left,
    /// Next step (tree: expand).
    Right,
    /// A page up.
    PageUp,
    /// A page down.
    PageDown,
    /// To the top.
    Top,
    /// To the bottom.
    Bottom,
    /// Focus the next pane.
    NextPane,
    /// Focus the previous pane.
    PrevPane,
    /// Next step, wherever the focus is.
    NextStep,
    /// Previous step, wherever the focus is.
    PrevStep,
    /// Jump to step N (0 = live).
    Step(u8),
    /// Filter the lists.
    Filter,
    /// Run the step's experiment (tree: rank the current node's children).
    Run,
    /// Cancel the running experiment, keeping what it measured.
    Cancel,
    /// Edit (step 1: the delays; step 4: the node's patterns).
    Edit,
    /// Change the delay per call used by rankings and `a`.
    EditDelay,
    /// Leave the TUI; the session keeps running (re-attach later).
    Detach,
    /// Change the frequency (every Nth call).
    EditFrequency,
    /// Change the time budget of an experiment.
    EditBudget,
    /// Put the current node's patterns in force now (live mode).
    Apply,
    /// Sweep the current node (steps 1-2 on it).
    Sweep,
    /// Export the report: Markdown, JSON, SVG.
    Export,
    /// Step 0: choose the progress point (a suggested one, or typed).
    Progress,
    /// Step 0: choose the output regex (the suggested rate line, or typed).
    ProgressRegex,
}

/// One line of the key table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// The codes that trigger it.
    pub codes: &'static [KeyCode],
    /// How the help writes the keys.
    pub keys: &'static str,
    /// The action ([`Action::Step`] takes its number from the digit).
    pub action: Action,
    /// What it does (short: the help shows two columns at 80×24).
    pub help: &'static str,
}

const fn b(
    codes: &'static [KeyCode],
    keys: &'static str,
    action: Action,
    help: &'static str,
) -> Binding {
    Binding {
        codes,
        keys,
        action,
        help,
    }
}

use KeyCode::{BackTab, Char, Down, End, Enter, Esc, Home, Left, PageDown, PageUp, Right, Tab, Up};

/// Every key, in the order the help lists them.
pub const BINDINGS: &[Binding] = &[
    b(&[Char('?')], "?", Action::Help, "this help"),
    b(
        &[Char('q')],
        "q ^C",
        Action::Quit,
        "quit (stops the workload)",
    ),
    b(
        &[Char('d')],
        "d",
        Action::Detach,
        "detach (it keeps running)",
    ),
    b(
        &[Left, Char('h')],
        "← h",
        Action::Left,
        "prev step · tree: close/up",
    ),
    b(
        &[Right, Char('l')],
        "→ l",
        Action::Right,
        "next step · tree: open",
    ),
    b(
        &[Char('[')],
        "[",
        Action::PrevStep,
        "previous step (anywhere)",
    ),
    b(&[Char(']')], "]", Action::NextStep, "next step (anywhere)"),
    b(
        &[
            Char('0'),
            Char('1'),
            Char('2'),
            Char('3'),
            Char('4'),
            Char('5'),
        ],
        "0-5",
        Action::Step(0),
        "go to step (0 = live)",
    ),
    b(&[Tab], "Tab", Action::NextPane, "next pane"),
    b(&[BackTab], "S-Tab", Action::PrevPane, "previous pane"),
    b(&[Up, Char('k')], "↑ k", Action::Up, "up / scroll"),
    b(&[Down, Char('j')], "↓ j", Action::Down, "down / scroll"),
    b(&[PageUp], "PgUp", Action::PageUp, "page up"),
    b(&[PageDown], "PgDn", Action::PageDown, "page down"),
    b(&[Home, Char('g')], "Home g", Action::Top, "top"),
    b(
        &[End, Char('G')],
        "End G",
        Action::Bottom,
        "bottom (output: follow)",
    ),
    b(
        &[Enter],
        "Enter",
        Action::Enter,
        "run step · tree: open/close",
    ),
    b(&[Esc], "Esc", Action::Back, "close · clear the filter"),
    b(&[Char('/')], "/", Action::Filter, "filter lists by name"),
    b(
        &[Char('r')],
        "r",
        Action::Run,
        "run · 4: rank node children",
    ),
    b(
        &[Char('c')],
        "c",
        Action::Cancel,
        "cancel experiment, keep data",
    ),
    b(
        &[Char('e')],
        "e",
        Action::Edit,
        "edit delays (1), pattern (4)",
    ),
    b(
        &[Char('D')],
        "D",
        Action::EditDelay,
        "delay per call (3, 4)",
    ),
    b(
        &[Char('f')],
        "f",
        Action::EditFrequency,
        "delay every Nth call",
    ),
    b(&[Char('b')], "b", Action::EditBudget, "time budget"),
    b(&[Char('s')], "s", Action::Sweep, "4: sweep the node (1-2)"),
    b(
        &[Char('p')],
        "p",
        Action::Progress,
        "0: choose progress point",
    ),
    b(
        &[Char('R')],
        "R",
        Action::ProgressRegex,
        "0: choose output regex",
    ),
    b(
        &[Char('a')],
        "a",
        Action::Apply,
        "4: slow the node now, live",
    ),
    b(&[Char('x')], "x", Action::Export, "export md, json, svg"),
];

/// The action for a key press, if any (key releases are ignored: terminals
/// with the kitty protocol send them).
pub fn action_for(key: &KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        return matches!(key.code, Char('c') | Char('d')).then_some(Action::Quit);
    }
    let binding = BINDINGS.iter().find(|b| b.codes.contains(&key.code))?;
    Some(match (binding.action, key.code) {
        (Action::Step(_), Char(c)) => Action::Step(c.to_digit(10).map_or(0, |d| d as u8)),
        (action, _) => action,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_bound_once() {
        let mut seen = Vec::new();
        for binding in BINDINGS {
            for code in binding.codes {
                assert!(!seen.contains(code), "{code:?} bound twice");
                seen.push(*code);
            }
        }
    }

    #[test]
    fn keys_map_to_actions() {
        let key = |code| KeyEvent::new(code, KeyModifiers::NONE);
        assert_eq!(action_for(&key(Char('j'))), Some(Action::Down));
        assert_eq!(action_for(&key(Up)), Some(Action::Up));
        assert_eq!(action_for(&key(Char('3'))), Some(Action::Step(3)));
        assert_eq!(action_for(&key(Char('Z'))), None);
        let ctrl_c = KeyEvent::new(Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action_for(&ctrl_c), Some(Action::Quit));
    }
}
