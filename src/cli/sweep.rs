//! `speedbump sweep [OPTIONS] -- COMMAND...`: steps 1 and 2 of
//! docs/methodology.md. Throughput against delay for one set of patterns (all of
//! Python by default), its shape, the verdict "is Python the bottleneck",
//! and what a faster Python would gain. A thin layer over
//! [`crate::experiment`]; see docs/experiments.md.
//!
//! Also home of what `sweep` and `rank` share: the targeting, progress and
//! experiment options ([`ExperimentArgs`]) and the [`Driver`] that runs the
//! engine with a progress bar and records results.

mod args;
mod driver;

use std::process::ExitCode;

use clap::Args;

use crate::analysis::SweepPoint;
use crate::analysis::extrapolate::predictions;
use crate::cli::options::{self, DelaysArgs};
use crate::experiment::ExperimentKind;
use crate::report::text::{sweep_lines, sweep_table};

pub use args::HeadlessArgs;
pub use driver::{Driver, Outcome};

const AFTER_HELP: &str = "\
Examples:
  speedbump sweep --delays 0,1us,10us,100us --progress 'bench:step' -- python bench.py
  speedbump sweep --pattern 'vllm.worker.*:*' --delays 10us,100us --budget 3m -- python serve.py
  speedbump sweep --pattern '__main__:hot' --delays 2us,5us,10us --predict 5us -- python app.py

Each delay is measured in pairs of windows (baseline at delay 0 with the same patterns,
then the delay, in random order) until its 95% interval is within --precision or the
budget ends. Results are appended to --out (results.json); `speedbump report` renders them.

Exit status: 0 every delay measured to the precision; 1 some too noisy to conclude;
2 speedbump failed (bad options, command not found); 3 the workload crashed or exited
before the sweep ended (partial results kept); 130 interrupted (partial results kept).";

/// Steps 1-2: throughput against delay, shape, "is Python the bottleneck".
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct SweepArgs {
    #[command(flatten)]
    pub delays: DelaysArgs,
    /// Speed-ups per call for step 2's prediction, comma-separated (default:
    /// the delays).
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = options::delay)]
    pub predict: Option<Vec<u64>>,
    #[command(flatten)]
    pub common: HeadlessArgs,
}

/// Runs `speedbump sweep`.
pub fn run(args: &SweepArgs) -> anyhow::Result<ExitCode> {
    let patterns = args.common.workload.targets.patterns_or_all()?;
    let delays = args.delays.above_zero()?;
    let mut driver = Driver::start(&args.common)?;
    driver.note(&format!(
        "speedbump: sweeping {} at {} (budget {:.0} s)",
        patterns.join(" "),
        delays
            .iter()
            .map(|&d| crate::units::format_ns(d))
            .collect::<Vec<_>>()
            .join(", "),
        args.common.workload.experiment.budget
    ));
    let mut result = driver.sweep(
        patterns,
        delays,
        args.common.workload.targets.frequency,
        args.common.workload.experiment.budget,
    )?;
    if let Some(speedups) = &args.predict {
        let measured: Vec<SweepPoint> = result.points.iter().flatten().copied().collect();
        result.predictions = predictions(
            &result.shape,
            &measured,
            result.own_time.as_ref(),
            speedups.iter().map(|&x| x as f64),
        );
    }
    driver.record(ExperimentKind::Sweep, |r| r.sweep = Some(result.clone()))?;
    let outcome = driver.outcome(&result.verdicts);
    let mut report = sweep_table(&result).plain();
    report.push('\n');
    for line in sweep_lines(&result) {
        report.push_str(&line);
        report.push('\n');
    }
    driver.finish(&report)?;
    Ok(outcome.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Verdict;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        sweep: SweepArgs,
    }

    fn parse(args: &[&str]) -> Result<SweepArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("sweep").chain(args.iter().copied())).map(|c| c.sweep)
    }

    #[test]
    fn options_parse() {
        let a = parse(&[
            "--delays",
            "0,1us,10us",
            "--budget",
            "2m",
            "--precision",
            "3%",
            "--mode",
            "restart",
            "--",
            "python",
            "x.py",
        ])
        .unwrap();
        assert_eq!(a.delays.delays, [0, 1_000, 10_000]);
        assert_eq!(a.common.workload.experiment.budget, 120.0);
        assert!((a.common.workload.experiment.precision - 0.03).abs() < 1e-12);
        assert_eq!(
            a.common.workload.experiment.mode,
            crate::cli::options::ModeArg::Restart
        );
        assert_eq!(
            a.common.workload.targets.patterns_or_all().unwrap(),
            ["*:*"]
        );
        assert_eq!(a.common.workload.experiment.warmup, 0.5);
        assert_eq!(a.common.workload.experiment.window, 0.3);
    }

    #[test]
    fn bad_values_say_what_to_write() {
        let e = parse(&["--budget", "90", "--", "x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no unit"), "{e}");
        let e = parse(&["--precision", "200%", "--", "x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("2%"), "{e}");
        let e = parse(&["--delays", "1 parsec", "--", "x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a duration"), "{e}");
        assert!(
            parse(&["--delays", "1us"]).is_err(),
            "a command is required"
        );
        let a = parse(&["--pattern", "!a:*", "--", "x"]).unwrap();
        let e = a
            .common
            .workload
            .targets
            .patterns_or_all()
            .unwrap_err()
            .to_string();
        assert!(e.contains("no include pattern"), "{e}");
    }

    #[test]
    fn outcome_codes() {
        let precise = Verdict::Precise {
            pairs_used: 3,
            half_width: 0.01,
        };
        assert_eq!(
            Outcome::from_verdicts(std::slice::from_ref(&precise)),
            Outcome::Conclusive
        );
        let noisy = Verdict::TooNoisy {
            pairs_used: 3,
            half_width: Some(0.05),
            pairs_needed: Some(20),
            advice: String::new(),
        };
        assert_eq!(
            Outcome::from_verdicts(&[precise.clone(), noisy]),
            Outcome::TooNoisy
        );
        // A setting that matched no call is not a conclusion: exit 1, never 0.
        let none = Verdict::NoCalls { pairs_used: 6 };
        assert_eq!(Outcome::from_verdicts(&[precise, none]), Outcome::TooNoisy);
        assert_eq!(Outcome::TooNoisy as u8, 1);
        assert_eq!(Outcome::Interrupted as u8, 130);
    }
}
