//! `runner diff A B`: prints the comparison; the exit code carries the verdict.

use crate::diff::{self, tolerance, Format, Options, Verdict};
use crate::error::{Error, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The run (or sweep) folder to check.
    pub a: PathBuf,
    /// The reference run (or sweep) folder: its spec's `[diff]` table gives the tolerances.
    pub b: PathBuf,
    /// Absolute tolerance: a value passes when |a − b| ≤ atol + rtol·|b|.
    #[arg(long)]
    pub atol: Option<f64>,
    /// Relative tolerance (times the reference value |b|).
    #[arg(long)]
    pub rtol: Option<f64>,
    /// An absolute tolerance for one name: a metric (loss), a final metric
    /// (test.accuracy), a CSV column, a tensor or a file (confusion.csv). Repeatable.
    #[arg(long = "metric", value_name = "NAME=TOL")]
    pub metrics: Vec<String>,
    /// Output: a readable table, Markdown for a pull request, or JSON.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Write a pixel-difference PNG for every changed picture into this folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run(a: DiffArgs) -> Result<()> {
    let check = |what: &str, v: Option<f64>| -> Result<Option<f64>> {
        v.map(|x| tolerance::check_tol(what, x)).transpose().map_err(Error::Usage)
    };
    // Checked before comparing, so an identical pair does not pass with a --out that
    // could never have taken a picture (the folder is made when one differs).
    if let Some(out) = a.out.as_deref().filter(|o| o.exists() && !o.is_dir()) {
        return Err(Error::Usage(format!("--out {}: not a folder (a file is there)", out.display())));
    }
    let names = a.metrics.iter().map(|m| tolerance::parse_name_tol(m)).collect::<Result<Vec<_>, _>>();
    let opts = Options {
        atol: check("--atol", a.atol)?,
        rtol: check("--rtol", a.rtol)?,
        names: names.map_err(Error::Usage)?,
        out: a.out,
    };
    let outcome = diff::diff(&a.a, &a.b, &opts);
    // A misspelt tolerance name would leave its values exact without a word: refused
    // before the report, which would pass or fail for the wrong reason.
    let unknown = diff::names::unknown_everywhere(&outcome);
    if !unknown.is_empty() {
        return Err(Error::Usage(diff::names::message(&unknown)));
    }
    print!("{}", diff::render(&outcome, a.format));
    match outcome.verdict {
        Verdict::Same => Ok(()),
        Verdict::Different => {
            Err(Error::RunsDiffer(format!("the runs differ beyond tolerance ({} values)", outcome.differing_values())))
        }
        Verdict::Incomparable => {
            let mut reasons: Vec<String> = outcome.reasons.clone();
            for p in &outcome.pairs {
                let prefix = if p.pair.is_empty() { String::new() } else { format!("{}: ", p.pair) };
                reasons.extend(p.reasons.iter().map(|r| format!("{prefix}{r}")));
            }
            Err(Error::Data(format!("cannot compare {} and {}: {}", a.a.display(), a.b.display(), reasons.join("; "))))
        }
    }
}
