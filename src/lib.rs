//! The library half of `lstm-mnist`: the experiment config (one JSON file
//! composed of each crate's section, plus `--set` overrides), the wiring
//! from the data crates to tensors, the run-folder layout, sweeps and
//! comparisons, and the commands themselves. The binary (`src/main.rs`)
//! only parses arguments and calls [`commands`]; tests and the fuzz targets
//! (`fuzz/`) call the library without a process.

pub mod commands;
pub mod compare;
pub mod config;
pub mod data;
mod failure;
pub mod fuzz;
pub mod html;
pub mod memory;
pub mod openmp;
pub mod precision;
pub mod run_folder;
pub mod runtime;
pub mod signals;
pub mod sweep;
pub mod tensorboard;

pub use failure::{io_error, Failure};
