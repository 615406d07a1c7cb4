//! `lstm-mnist compare`: runs side by side (see [`crate::compare`]).

use std::path::PathBuf;

use crate::compare::{self, Comparison};
use crate::Failure;

/// Arguments of `lstm-mnist compare`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompareArgs {
    /// Run folders, or sweep folders (meaning their trials).
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
    /// Print JSON ({"keys", "runs", "groups"}) instead of the table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print CSV, one line per run, instead of the table.
    #[arg(long)]
    pub csv: bool,
    /// Sort the runs by a column (test_accuracy, best_validation_accuracy,
    /// final_train_loss, steps, seconds, samples_per_second, dir) or a differing
    /// config key; a leading - sorts descending: --sort=-test_accuracy
    #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
    pub sort: Option<String>,
    /// Show (and group by) exactly these config keys, comma-separated:
    /// --keys train.learning_rate,model.hidden (default: every key whose
    /// values differ, except threads, display/checkpoint cadence and eval.batch_size)
    #[arg(long, value_delimiter = ',', value_name = "KEY,...")]
    pub keys: Option<Vec<String>>,
    /// Leave these config keys out, comma-separated: --hide train.seed,model.seed
    #[arg(long, value_delimiter = ',', value_name = "KEY,...")]
    pub hide: Vec<String>,
    /// Write summary.json, summary.csv and compare.svg here (default: into
    /// the sweep folder when a single sweep folder is compared).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Compares the runs; prints the table (or JSON or CSV) on stdout.
pub fn run(args: &CompareArgs) -> Result<(), Failure> {
    if let Some(out) = &args.out {
        compare::check_out(out)?;
    }
    let choice = compare::KeyChoice { keys: args.keys.clone(), hide: args.hide.clone() };
    let mut comparison: Comparison = compare::compare_with(&args.paths, &choice)?;
    if let Some(key) = &args.sort {
        comparison.sort(key)?;
    }
    if args.json {
        let text = serde_json::to_string_pretty(&comparison.summary_json()).unwrap_or_default();
        println!("{text}");
    } else if args.csv {
        print!("{}", compare::csv(&comparison));
    } else {
        print!("{}", compare::table(&comparison));
    }
    let sweep_folder = match args.paths.as_slice() {
        [path] if path.join(crate::sweep::SWEEP_FILE).is_file() => Some(path.clone()),
        _ => None,
    };
    if let Some(dir) = args.out.clone().or(sweep_folder) {
        compare::write_outputs(&comparison, &dir)?;
        eprintln!("wrote summary.json, summary.csv and compare.svg into {}", dir.display());
    }
    Ok(())
}
