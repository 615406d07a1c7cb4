//! The subcommands of `lstm-mnist`, each an argument struct (parsed by clap
//! in `main.rs`) and a `run` function.

pub mod bench;
pub mod compare;
pub mod evaluate;
pub mod explain;
pub mod export;
pub mod loaded;
pub mod output;
pub mod predict;
pub mod series;
pub mod serve;
pub mod sweep;
pub mod train;
