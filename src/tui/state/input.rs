//! Keys folded into the state: the editor first, then the help, then the
//! key table's actions, interpreted where the focus is.

use crossterm::event::KeyEvent;

use crate::experiment::{Command, ExperimentKind};
use crate::live::LiveSettings;
use crate::live::settings::normalise_pattern;
use crate::units::{parse_delay_ns, parse_positive_count};

use super::{State, Tone};
use crate::tui::editor::{Edit, Editor, Field};
use crate::tui::format::{delays_text, parse_delays};
use crate::tui::keys::{Action, action_for};
use crate::tui::msg::Effect;
use crate::tui::step::{Pane, Step};

/// Rows a page key moves.
const PAGE: usize = 10;

impl State {
    pub(super) fn on_key(&mut self, key: &KeyEvent) -> Vec<Effect> {
        if let Some(editor) = &mut self.editor {
            let outcome = editor.handle(key);
            let (field, text) = (editor.field, editor.text.clone());
            match outcome {
                Edit::Editing => {
                    if field == Field::Filter {
                        self.filter = text;
                    }
                }
                Edit::Cancel => {
                    if field == Field::Filter {
                        self.filter.clear();
                    }
                    self.editor = None;
                }
                Edit::Submit => return self.submit(field, &text),
            }
            return Vec::new();
        }
        let Some(action) = action_for(key) else {
            return Vec::new();
        };
        if self.help {
            // Any key closes the help; `q` still quits.
            self.help = false;
            return if action == Action::Quit {
                self.quit()
            } else {
                Vec::new()
            };
        }
        self.on_action(action)
    }

    fn on_action(&mut self, action: Action) -> Vec<Effect> {
        let in_tree = self.pane() == Pane::Tree;
        match action {
            Action::Quit => return self.quit(),
            Action::Detach => return self.detach(),
            Action::Help => self.help = true,
            Action::Back => self.filter.clear(),
            Action::Left if in_tree => self.tree_do(|d, t, f| d.left(t, f)),
            Action::Right if in_tree => self.tree_do(|d, t, _| d.right(t)),
            Action::Left | Action::PrevStep => self.go(self.step.prev()),
            Action::Right | Action::NextStep => self.go(self.step.next()),
            Action::Step(n) => {
                if let Some(step) = Step::from_index(usize::from(n)) {
                    self.go(step);
                }
            }
            Action::NextPane | Action::PrevPane => {
                let n = self.step.panes().len();
                let focus = &mut self.focus[self.step.index()];
                *focus = if action == Action::NextPane {
                    (*focus + 1) % n
                } else {
                    (*focus + n - 1) % n
                };
            }
            Action::Up => self.scroll(-1),
            Action::Down => self.scroll(1),
            Action::PageUp => self.scroll(-(PAGE as isize)),
            Action::PageDown => self.scroll(PAGE as isize),
            Action::Top => self.scroll(isize::MIN / 2),
            Action::Bottom => self.scroll(isize::MAX / 2),
            Action::Enter => return self.enter(),
            Action::Filter => {
                self.editor = Some(Editor::new(Field::Filter, self.filter.clone()));
            }
            Action::Run => return self.run(),
            Action::Cancel => return self.cancel(),
            Action::Edit => match self.step {
                Step::Impact => {
                    let text = delays_text(&self.sweep.delays_ns);
                    self.editor = Some(Editor::new(Field::Delays, text));
                }
                Step::DrillDown => {
                    let text = self.node_patterns().join(" ");
                    self.editor = Some(Editor::new(Field::Pattern, text));
                }
                _ => self.say(
                    Tone::Info,
                    "e edits the delays (step 1) or a pattern (step 4)",
                ),
            },
            Action::EditDelay => {
                let text = crate::tui::format::delay_short(self.options.rank_delay_ns);
                self.editor = Some(Editor::new(Field::Delay, text.replace('µ', "u")));
            }
            Action::EditFrequency => {
                let text = self.options.frequency.to_string();
                self.editor = Some(Editor::new(Field::Frequency, text));
            }
            Action::EditBudget => {
                let text = format!("{}s", self.options.budget_s);
                self.editor = Some(Editor::new(Field::Budget, text));
            }
            Action::Apply => return self.apply_node(),
            Action::Progress => self.edit_progress_point(),
            Action::ProgressRegex => self.edit_progress_regex(),
            Action::Sweep => return self.sweep_node(),
            Action::Export => {
                if self.results.is_empty() {
                    self.say(Tone::Warn, "nothing measured yet: run step 1 or 3 first");
                } else {
                    return vec![Effect::Export];
                }
            }
        }
        Vec::new()
    }

    fn go(&mut self, step: Step) {
        self.step = step;
    }

    fn tree_do(
        &mut self,
        f: impl FnOnce(&mut super::tree::Drill, &crate::analysis::CallTree, &str),
    ) {
        if let Some(census) = &self.census {
            f(&mut self.drill, &census.tree, &self.filter);
        }
    }

    /// Moves the focused pane's cursor by `delta` (clamped by the views and
    /// here where the length is known).
    fn scroll(&mut self, delta: isize) {
        let pane = self.pane();
        if pane == Pane::Tree {
            if let Some(census) = &self.census {
                let (tree, filter) = (&census.tree, self.filter.as_str());
                match delta {
                    d if d <= isize::MIN / 4 => self.drill.move_to_end(tree, filter, false),
                    d if d >= isize::MAX / 4 => self.drill.move_to_end(tree, filter, true),
                    d => self.drill.move_by(tree, filter, d),
                }
            }
            return;
        }
        // The output pane scrolls back from its end: up is +.
        let delta = if pane == Pane::Output { -delta } else { delta };
        let len = self.pane_len(pane);
        let cursor = &mut self.cursors[pane.index()];
        let moved = (*cursor as isize).saturating_add(delta);
        *cursor = moved.clamp(0, len.saturating_sub(1) as isize) as usize;
    }

    /// Rows in a list pane (what its cursor can reach).
    fn pane_len(&self, pane: Pane) -> usize {
        let snapshot = self.live.last.as_deref();
        match pane {
            Pane::Patterns => snapshot.map_or(0, |s| s.patterns.len()),
            Pane::Functions => snapshot.map_or(0, |s| s.functions.len()),
            Pane::Output => self.output.lines.len(),
            Pane::SweepTable => self.sweep.delays_ns.len(),
            Pane::Candidates => self.subsystem_rows().len(),
            Pane::Ranking => self
                .results
                .rankings
                .iter()
                .map(|r| r.ranked.len() + 2)
                .sum(),
            Pane::Predictions => self
                .sweep
                .result
                .as_ref()
                .map_or(0, |r| r.predictions.len()),
            _ => 0,
        }
    }

    fn enter(&mut self) -> Vec<Effect> {
        match self.step {
            Step::Live | Step::Gain => {
                self.go(self.step.next());
                Vec::new()
            }
            Step::Impact => self.start_sweep(),
            Step::Subsystems => {
                // Once ranked, Enter opens the row in step 4; before, it ranks.
                let ranked = self.ranking("*").is_some_and(|r| r.result.is_some());
                let rows = self.subsystem_rows();
                match rows.get(self.cursor(Pane::Candidates)) {
                    Some(row) if ranked => {
                        self.drill.cursor.clone_from(&row.label);
                        self.drill.open.insert(row.label.clone());
                        self.go(Step::DrillDown);
                        Vec::new()
                    }
                    _ => self.start_rank(""),
                }
            }
            Step::DrillDown => {
                if self.pane() == Pane::Tree {
                    self.tree_do(|d, t, _| d.toggle(t));
                }
                Vec::new()
            }
            Step::Report => Vec::new(),
        }
    }

    fn run(&mut self) -> Vec<Effect> {
        match self.step {
            Step::Impact => self.start_sweep(),
            Step::Subsystems => self.start_rank(""),
            Step::DrillDown => {
                let path = self.drill.cursor.clone();
                let leaf = self
                    .census
                    .as_ref()
                    .and_then(|c| c.tree.find(&path))
                    .is_some_and(|n| n.children.is_empty());
                if leaf || self.drill.edited.as_ref().is_some_and(|(p, _)| *p == path) {
                    self.sweep_node()
                } else {
                    self.start_rank(&path)
                }
            }
            Step::Live => {
                self.say(
                    Tone::Info,
                    "r runs the sweep (step 1) or a ranking (steps 3, 4); here R sets the \
                     output regex, p the progress point",
                );
                Vec::new()
            }
            _ => {
                self.say(
                    Tone::Info,
                    "r runs the sweep (step 1) or a ranking (steps 3, 4)",
                );
                Vec::new()
            }
        }
    }

    fn cancel(&mut self) -> Vec<Effect> {
        match &mut self.running {
            Some(running) if !running.cancelling => {
                running.cancelling = true;
                self.say(Tone::Info, "cancelling: what was measured is kept");
                vec![Effect::Engine(Command::Cancel)]
            }
            Some(_) => Vec::new(),
            None => {
                self.say(Tone::Info, "nothing is running");
                Vec::new()
            }
        }
    }

    /// The cursor node's patterns (typed by hand, or its own).
    fn node_patterns(&self) -> Vec<String> {
        match &self.census {
            Some(c) => self.drill.patterns(&c.tree),
            None => self.options.patterns.clone(),
        }
    }

    fn sweep_node(&mut self) -> Vec<Effect> {
        if self.step != Step::DrillDown {
            self.say(Tone::Info, "s sweeps the current node of step 4");
            return Vec::new();
        }
        let patterns = self.node_patterns();
        let previous = std::mem::replace(&mut self.sweep.patterns, patterns);
        let effects = self.start_sweep();
        if effects.is_empty() {
            self.sweep.patterns = previous;
        } else {
            self.go(Step::Impact);
        }
        effects
    }

    fn apply_node(&mut self) -> Vec<Effect> {
        if self.step != Step::DrillDown {
            self.say(Tone::Info, "a slows the current node of step 4 now");
            return Vec::new();
        }
        if self.running.is_some() {
            self.say(Tone::Warn, "an experiment is running (c cancels it)");
            return Vec::new();
        }
        let patterns = self.node_patterns();
        let settings = LiveSettings {
            delay_ns: self.options.rank_delay_ns,
            frequency: self.options.frequency,
            patterns: patterns.clone(),
            ..LiveSettings::default()
        };
        self.say(
            Tone::Info,
            format!(
                "slowing {} by {} per call: watch step 0",
                patterns.join(" "),
                crate::tui::format::delay(self.options.rank_delay_ns)
            ),
        );
        self.awaiting_apply = true;
        vec![Effect::Engine(Command::Apply(settings))]
    }

    /// Whether the progress source can be chosen now with `key` (which
    /// chooses `what`); says why not otherwise: only at step 0, and not
    /// while a sweep or ranking measures with the source it began with (the
    /// census at start needs no throughput: the change is queued behind it).
    fn may_choose_progress(&mut self, key: char, what: &str) -> bool {
        if self.step != Step::Live {
            self.say(Tone::Info, format!("{key} chooses the {what} at step 0"));
            return false;
        }
        if let Some(running) = self
            .running
            .as_ref()
            .filter(|r| r.kind != ExperimentKind::Census)
        {
            let experiment = super::kind_name(running.kind);
            self.say(
                Tone::Warn,
                format!("the {experiment} is running: change the {what} after it (c cancels)"),
            );
            return false;
        }
        true
    }

    /// `p` at step 0: the progress point editor, filled with the next
    /// suggested point (each `p` takes the next one); Enter puts it in force
    /// without a restart.
    fn edit_progress_point(&mut self) {
        if !self.may_choose_progress('p', "progress point") {
            return;
        }
        let suggested = super::live::suggested_points(&self.live, &self.output);
        let text = if suggested.is_empty() {
            String::new()
        } else {
            let text = suggested[self.progress_pick % suggested.len()].clone();
            self.progress_pick += 1;
            text
        };
        self.editor = Some(Editor::new(Field::ProgressPoint, text));
    }

    /// `R` at step 0: the output regex editor, filled with the regex of the
    /// rate line the output prints (`crate::live::suggest`); Enter puts it
    /// in force without a restart, in place of any progress point.
    fn edit_progress_regex(&mut self) {
        if !self.may_choose_progress('R', "progress regex") {
            return;
        }
        let lines = self.output.lines.iter().map(|(line, _)| line.as_str());
        let text = crate::live::suggest::rate_line(lines).map_or_else(String::new, |r| r.regex);
        self.editor = Some(Editor::new(Field::ProgressRegex, text));
    }

    /// Says what counts units now (`counting`) and when the throughput
    /// appears; a source chosen during the census at start counts after it.
    fn say_source_chosen(&mut self, counting: &str, appears: &str) {
        let when = if self.running.is_some() {
            " once the census ends"
        } else {
            ""
        };
        self.say(
            Tone::Info,
            format!("counting {counting}{when}: the throughput appears {appears}"),
        );
    }

    /// Checks a typed output regex and puts it in force (a rate: group 1 is
    /// the units per second the workload prints).
    fn choose_progress_regex(&mut self, text: &str) -> Result<Command, String> {
        if text.is_empty() {
            return Err("type a regex whose group 1 is the rate, e.g. ([0-9.]+) events/s".into());
        }
        if let Some(why) = crate::live::progress::regex_error(text) {
            return Err(format!("not a regex: {why}"));
        }
        self.options.progress = Some(super::progress_source_words(&[], Some(text)));
        let unit = super::live::regex_unit(text).unwrap_or("units");
        self.say_source_chosen(
            &format!("{unit} from the output's rate lines (in place of any progress point)"),
            "with the next lines",
        );
        Ok(Command::SetProgressRegex {
            regex: text.to_owned(),
            kind: crate::live::progress::RegexKind::Rate,
        })
    }

    /// Takes an edited value, or keeps the editor open with the reason.
    fn submit(&mut self, field: Field, text: &str) -> Vec<Effect> {
        let mut effects = Vec::new();
        let outcome: Result<(), String> = match field {
            Field::ProgressPoint => {
                crate::live::settings::normalise_progress_point("progress point", text.trim())
                    .map_err(|e| e.to_string().lines().next().unwrap_or("").to_owned())
                    .map(|point| {
                        let points = vec![point.clone()];
                        self.options.progress = Some(super::progress_source_words(&points, None));
                        self.say_source_chosen(
                            &format!("units with progress point {point}"),
                            "once it is called",
                        );
                        effects.push(Effect::Engine(Command::SetProgressPoints(points)));
                    })
            }
            Field::ProgressRegex => self
                .choose_progress_regex(text.trim())
                .map(|command| effects.push(Effect::Engine(command))),
            Field::Filter => {
                self.filter = text.trim().to_owned();
                Ok(())
            }
            Field::Delays => parse_delays(text).map(|mut delays| {
                if !delays.contains(&0) {
                    delays.insert(0, 0);
                }
                self.sweep.delays_ns = delays;
            }),
            Field::Delay => parse_delay_ns(text)
                .map_err(|e| e.to_string())
                .and_then(|ns| {
                    if ns == 0 {
                        Err("a ranking needs a delay above 0".into())
                    } else {
                        self.options.rank_delay_ns = ns;
                        Ok(())
                    }
                }),
            Field::Frequency => parse_positive_count(text)
                .map(|n| self.options.frequency = n)
                .map_err(|e| e.to_string()),
            Field::Budget => crate::units::parse_seconds(text)
                .map_err(|e| e.to_string())
                .and_then(|seconds| {
                    if seconds < 1.0 {
                        Err("give at least 1s".into())
                    } else {
                        self.options.budget_s = seconds;
                        Ok(())
                    }
                }),
            Field::Pattern => {
                let mut patterns = Vec::new();
                let mut error = None;
                for part in text.split_whitespace() {
                    match normalise_pattern("pattern", part) {
                        Ok(p) => patterns.push(p),
                        Err(e) => {
                            error = Some(e.to_string().lines().next().unwrap_or("").to_owned());
                            break;
                        }
                    }
                }
                match error {
                    Some(e) => Err(e),
                    None if !patterns.iter().any(|p| !p.starts_with('!')) => {
                        Err("give at least one include pattern (e.g. pkg.mod:*)".into())
                    }
                    None => {
                        self.drill.edited = Some((self.drill.cursor.clone(), patterns));
                        self.say(Tone::Info, "pattern set: r or s sweeps it, a applies it");
                        Ok(())
                    }
                }
            }
        };
        match outcome {
            Ok(()) => self.editor = None,
            Err(e) => {
                if let Some(editor) = &mut self.editor {
                    editor.error = Some(e);
                }
            }
        }
        effects
    }
}
