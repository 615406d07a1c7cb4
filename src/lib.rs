//! The library half of `lstm-mnist`: the experiment config (one JSON file
//! composed of each crate's section, plus `--set` overrides) and the wiring
//! from the data crates to tensors. The binary (`src/main.rs`) uses these;
//! they are a library so that tests and the fuzz targets (`fuzz/`) can call
//! them without a process.

pub mod compare;
pub mod config;
pub mod data;
pub mod memory;
pub mod openmp;
pub mod precision;
pub mod sweep;
