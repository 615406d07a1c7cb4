//! Class names: from the config (checked against the labels), the named
//! dataset, the dataset the label files are recognised as, or the digits.

use crate::config::DataConfig;
use crate::datasets::NamedDataset;
use crate::error::{DataError, Result};
use crate::idx::IdxLabels;
use crate::{recognise, NUM_CLASSES};

/// The class names of MNIST digits.
pub fn digit_names() -> Vec<String> {
    (0..NUM_CLASSES).map(|d| d.to_string()).collect()
}

/// The class names: `data.class_names` (checked against the labels), else
/// the named dataset's, else those of the dataset the label files are
/// recognised as by their SHA-256, else the digits.
pub(crate) fn class_names(
    config: &DataConfig,
    named: Option<NamedDataset>,
    train: &IdxLabels,
    test: &IdxLabels,
) -> Result<Vec<String>> {
    let invalid = |value: String, hint: String| Err(DataError::invalid_config("data.class_names", value, hint));
    let Some(names) = &config.class_names else {
        if let Some(named) = named {
            return Ok(named.class_names());
        }
        return Ok(match recognise::recognise(&train.path, &test.path) {
            Some(known) => {
                tracing::info!(dataset = known.name, "label files recognised by SHA-256; using its class names");
                known.class_names()
            }
            None => digit_names(),
        });
    };
    let used = train.labels.iter().chain(&test.labels).max().map_or(0, |&l| usize::from(l) + 1);
    if names.len() != used {
        return invalid(
            format!("{} names given", names.len()),
            format!(
                "the labels of {} and {} use {used} classes (0 to {}); give one name per class",
                train.path.display(),
                test.path.display(),
                used.saturating_sub(1)
            ),
        );
    }
    if let Some(i) = names.iter().position(|n| n.trim().is_empty()) {
        return invalid(format!("name {i} {:?}", names[i]), "give every class a non-empty name".into());
    }
    if let Some((i, n)) = names.iter().enumerate().find(|(i, n)| names[..*i].contains(n)) {
        return invalid(format!("name {i} {n:?}"), "this name is given twice; class names must differ".into());
    }
    Ok(names.clone())
}
