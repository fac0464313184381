//! The wizard's steps and the panes of each: an enum with `next`/`prev`
//! that stop at the ends (no wrap-around: the last step stays the last).

/// One screen of the wizard. `Live` comes first: the workload as it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Step {
    /// Live throughput, processes, hit counts, the workload's output.
    #[default]
    Live,
    /// Step 1: slow everything, sweep delays, "is Python the bottleneck?".
    Impact,
    /// Step 2: the fit and the extrapolated gain.
    Gain,
    /// Step 3: the subsystems the census found, ranked.
    Subsystems,
    /// Step 4: drill down the call tree to one function.
    DrillDown,
    /// Step 5: the ranked report, exported with one key.
    Report,
}

impl Step {
    /// Every step, in order.
    pub const ALL: [Step; 6] = [
        Step::Live,
        Step::Impact,
        Step::Gain,
        Step::Subsystems,
        Step::DrillDown,
        Step::Report,
    ];

    /// Position in [`Step::ALL`]; also the digit key that jumps to it.
    pub fn index(self) -> usize {
        match self {
            Step::Live => 0,
            Step::Impact => 1,
            Step::Gain => 2,
            Step::Subsystems => 3,
            Step::DrillDown => 4,
            Step::Report => 5,
        }
    }

    /// The step at `index`, if any.
    pub fn from_index(index: usize) -> Option<Step> {
        Step::ALL.get(index).copied()
    }

    /// The next step; the last stays the last.
    pub fn next(self) -> Step {
        Step::from_index(self.index() + 1).unwrap_or(self)
    }

    /// The previous step; the first stays the first.
    pub fn prev(self) -> Step {
        self.index()
            .checked_sub(1)
            .and_then(Step::from_index)
            .unwrap_or(self)
    }

    /// Its tab title.
    pub fn title(self) -> &'static str {
        match self {
            Step::Live => "0 Live",
            Step::Impact => "1 Impact",
            Step::Gain => "2 Gain",
            Step::Subsystems => "3 Subsystems",
            Step::DrillDown => "4 Drill",
            Step::Report => "5 Report",
        }
    }

    /// Its panes, in Tab order.
    pub fn panes(self) -> &'static [Pane] {
        match self {
            Step::Live => &[
                Pane::Throughput,
                Pane::Patterns,
                Pane::Functions,
                Pane::Output,
            ],
            Step::Impact => &[Pane::SweepTable, Pane::SweepChart],
            Step::Gain => &[Pane::Predictions, Pane::Fit],
            Step::Subsystems => &[Pane::Candidates],
            Step::DrillDown => &[Pane::Tree, Pane::Detail],
            Step::Report => &[Pane::Ranking, Pane::Summary],
        }
    }
}

/// A part of a step's screen that can have the focus (Tab moves it) and
/// keeps its own cursor or scroll position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pane {
    /// Live: throughput over time.
    Throughput,
    /// Live: hit counts per pattern.
    Patterns,
    /// Live: hit counts per function.
    Functions,
    /// Live: the workload's output lines.
    Output,
    /// Step 1: the throughput-vs-delay chart.
    SweepChart,
    /// Step 1: the points as a table.
    SweepTable,
    /// Step 2: the fit and shape.
    Fit,
    /// Step 2: predicted gains.
    Predictions,
    /// Step 3: candidates with their bars.
    Candidates,
    /// Step 4: the call tree.
    Tree,
    /// Step 4: the current node.
    Detail,
    /// Step 5: the ranked tables.
    Ranking,
    /// Step 5: the verdict and findings.
    Summary,
}

impl Pane {
    /// Number of panes (size of per-pane arrays).
    pub const COUNT: usize = 13;

    /// Index into per-pane arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Its title.
    pub fn title(self) -> &'static str {
        match self {
            Pane::Throughput => "Throughput",
            Pane::Patterns => "Patterns",
            Pane::Functions => "Functions",
            Pane::Output => "Output",
            Pane::SweepChart => "Throughput vs delay",
            Pane::SweepTable => "Delays",
            Pane::Fit => "Fit",
            Pane::Predictions => "If the matched code were faster",
            Pane::Candidates => "Subsystems",
            Pane::Tree => "Call tree",
            Pane::Detail => "Node",
            Pane::Ranking => "Ranking",
            Pane::Summary => "Findings",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_and_prev_stop_at_the_ends() {
        assert_eq!(Step::Live.prev(), Step::Live);
        assert_eq!(Step::Report.next(), Step::Report);
        let mut s = Step::Live;
        for expected in &Step::ALL[1..] {
            s = s.next();
            assert_eq!(s, *expected);
        }
        assert_eq!(Step::Impact.prev(), Step::Live);
        assert_eq!(Step::from_index(6), None);
    }

    #[test]
    fn pane_indices_fit_the_arrays() {
        for step in Step::ALL {
            for pane in step.panes() {
                assert!(pane.index() < Pane::COUNT);
            }
        }
    }
}
