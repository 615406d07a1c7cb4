//! The library half of `lstm-mnist`: the commands (`commands`: clap argument
//! structs, printing, exit statuses), sweeps, signal handling, and the
//! mapping of errors to exit statuses. The run pipeline is the `experiment`
//! crate and the reports the `report` crate; their modules are re-exported
//! here under their old paths. The binary (`src/main.rs`) only parses
//! arguments and calls [`commands`]; tests and the fuzz targets (`fuzz/`)
//! call the library without a process.
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

pub mod commands;
mod failure;
pub mod signals;

/// Sweeps: the `sweep` crate, under its old path.
pub use ::sweep;
pub use experiment::{config, data, fuzz, memory, openmp, precision, run_folder, runtime};
pub use failure::{io_error, without_cpp_frames, Failure};
pub use report::{compare, html, tensorboard};
