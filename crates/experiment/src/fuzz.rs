//! The body of the `config` fuzz target (`fuzz/`), here so that the fuzzer
//! and the regression tests (`tests/cli/config_fuzz_regressions.rs`) run the
//! same code: what `Experiment::load` and the checks before a run do.

use std::path::Path;

use lstm_model::ModelSpec;

use crate::config::{ConfigError, Experiment};

/// Feeds one fuzz input, `json \0 set \0 set ...` (at most four `--set`s),
/// to the config loader. `None` when the JSON text is not UTF-8.
///
/// A loaded config must serialise, load back equal (the run folder's
/// `config.json`) and go through every check made before a run without
/// panicking; a panic is a bug, `Ok` or a typed error are both fine.
pub fn config(data: &[u8]) -> Option<Result<Experiment, ConfigError>> {
    let mut parts = data.split(|&b| b == 0);
    let text = std::str::from_utf8(parts.next().unwrap_or_default()).ok()?;
    let sets: Vec<String> = parts.take(4).map(|s| String::from_utf8_lossy(s).into_owned()).collect();
    let origin = Path::new("fuzz.json");
    let result = Experiment::from_json_str(text, &sets, origin);
    if let Ok(experiment) = &result {
        let saved = serde_json::to_string(experiment).expect("an experiment serialises");
        let again = Experiment::from_json_str(&saved, &[], origin).expect("a saved config loads back");
        assert_eq!(&again, experiment, "config.json does not round-trip");
        check(experiment);
    }
    Some(result)
}

/// The checks the program makes on a loaded config before any work.
fn check(experiment: &Experiment) {
    let _ = experiment.train.validate();
    let _ = ModelSpec::new(experiment.model.clone(), 28, 28, mnist_data::digit_names()).validate();
    let _ = experiment.data.check();
}
