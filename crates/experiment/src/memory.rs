//! How much memory this process may use, and whether training a model fits.

use lstm_model::{ModelError, ModelSpec};

pub use data_core::memory::available_bytes;

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / f64::from(1u32 << 30))
}

/// Refuses, before anything is allocated, a model whose training (weights,
/// gradients, optimiser state, the best-validation copy and the activations
/// of one batch; see [`ModelSpec::training_bytes`]) needs more memory than
/// `available` bytes. The error names `model.hidden` (or
/// `train.batch_size` when the activations are most of it).
pub fn check_training_fits(spec: &ModelSpec, batch_size: i64, available: Option<u64>) -> Result<(), ModelError> {
    let Some(available) = available else { return Ok(()) };
    let batch = u64::try_from(batch_size).unwrap_or(0);
    let need = spec.training_bytes(batch);
    if need.is_some_and(|n| n <= available) {
        return Ok(());
    }
    let weights = spec.training_bytes(0);
    let by_batch = weights.is_some_and(|w| need.is_none_or(|n| n - w > w));
    let value = format!(
        "{} with train.batch_size {batch_size} (training needs about {}, this machine allows {})",
        spec.config.hidden,
        need.map_or("more than 2^64 bytes".to_owned(), gib),
        gib(available)
    );
    Err(if by_batch {
        ModelError::invalid_config(
            "train.batch_size",
            value,
            "the activations of one batch do not fit in memory: use a smaller batch",
        )
    } else {
        ModelError::invalid_config(
            "model.hidden",
            value,
            "the model and its optimiser state do not fit in memory: use fewer hidden units or layers",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lstm_model::ModelConfig;

    fn spec(hidden: i64) -> ModelSpec {
        ModelSpec::new(ModelConfig { hidden, ..Default::default() }, 28, 28, (0..10).map(|d| d.to_string()).collect())
    }

    #[test]
    fn models_too_big_for_memory_are_refused_naming_the_key() {
        let gib8 = Some(8u64 << 30);
        check_training_fits(&spec(128), 128, gib8).unwrap();
        let err = check_training_fits(&spec(20_000), 128, gib8).unwrap_err();
        assert!(matches!(&err, ModelError::InvalidConfig(c) if c.key == "model.hidden"), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("20000") && msg.contains("8.0 GiB"), "{msg}");
        let err = check_training_fits(&spec(128), 10_000_000, gib8).unwrap_err();
        assert!(matches!(&err, ModelError::InvalidConfig(c) if c.key == "train.batch_size"), "{err}");
        // Batch 8000 x hidden 3000 needs about 43 GB (libtorch asked for 41 GB in one allocation and
        // failed): refused on a 32 GiB machine, naming the batch size.
        let err = check_training_fits(&spec(3000), 8000, Some(32u64 << 30)).unwrap_err();
        assert!(matches!(&err, ModelError::InvalidConfig(c) if c.key == "train.batch_size"), "{err}");
        // Unknown memory: no refusal.
        check_training_fits(&spec(20_000), 128, None).unwrap();
    }

    #[test]
    fn available_memory_is_read() {
        let bytes = available_bytes().expect("/proc/meminfo is readable on Linux");
        assert!(bytes > 1 << 26, "{bytes}");
    }
}
