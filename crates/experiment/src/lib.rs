//! The run pipeline of `lstm-mnist` as a library, usable by any binary: the
//! experiment config ([`config::Experiment`]: one JSON file composed of each
//! crate's section, plus `--set` overrides), the wiring from the data crates
//! to tensors ([`data`]), the run folder ([`run_folder`]: its layout, lock,
//! marker and `--force` guards) and [`train_experiment`], which trains an
//! experiment into a run folder and returns a typed [`Outcome`].
//!
//! The caller owns the process: it passes where the progress lines go, the
//! stop flag (set by its signal handler, if it has one) and its
//! [`RunHooks`] (more metric sinks, the reports written once the run is
//! saved). Nothing here installs a signal handler, parses arguments or
//! chooses an exit status.
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

pub mod config;
pub mod data;
mod error;
pub mod fuzz;
pub mod memory;
pub mod openmp;
pub mod precision;
mod progress;
pub mod run_folder;
pub mod runtime;
mod train;

pub use error::{io_error, ExperimentError};
pub use progress::{EvalValidator, TerminalBar};
pub use train::{default_run_dir, model_spec, train_experiment, NoHooks, Outcome, RunHooks, RunIo, SavedRun};
pub use trainer::{resume_may_change, RESUME_KEYS};
