//! The error core every library crate of lstm-mnist shares, so that each
//! crate's own error enum wraps one type instead of copying it:
//!
//! - [`InvalidConfig`]: a config value that cannot be used, with the dotted
//!   key the user writes (`train.batch_size`), the value and what would fix
//!   it. A crate's enum holds it as `InvalidConfig(#[from] InvalidConfig)`
//!   and counts it as the user's fault in its `is_config` (exit status 2 in
//!   the bin).
//! - [`first_line`]: libtorch's message without the C++ stack frames it
//!   appends, for each crate's `Torch` variant.
//!
//! ```
//! use config_error::InvalidConfig;
//!
//! let e = InvalidConfig::new("train.batch_size", 0, "use a positive batch size such as 128");
//! assert_eq!(e.to_string(), "invalid train.batch_size = 0: use a positive batch size such as 128");
//! assert_eq!(config_error::first_line(&"bad shape\nException raised from ..."), "bad shape");
//! ```
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

use std::fmt::Display;

/// A config value cannot be used: `key` is the dotted config key (or the
/// command-line option), `value` the offending value, `hint` how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {key} = {value}: {hint}")]
pub struct InvalidConfig {
    /// The dotted config key, as the user writes it (`train.batch_size`).
    pub key: String,
    /// The offending value, as text.
    pub value: String,
    /// What would fix it.
    pub hint: String,
}

impl InvalidConfig {
    /// The error for `key` holding `value`, with `hint` saying what would fix it.
    pub fn new(key: impl Into<String>, value: impl ToString, hint: impl Into<String>) -> Self {
        InvalidConfig { key: key.into(), value: value.to_string(), hint: hint.into() }
    }
}

/// The first line of `message` (libtorch appends C++ stack frames to its
/// messages, which say nothing to a user).
pub fn first_line(message: &impl Display) -> String {
    message.to_string().lines().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_key_value_and_hint() {
        let e = InvalidConfig::new("data.validation", -1, "use 0 or more");
        assert_eq!((e.key.as_str(), e.value.as_str()), ("data.validation", "-1"));
        assert_eq!(e.to_string(), "invalid data.validation = -1: use 0 or more");
    }

    #[test]
    fn first_line_drops_stack_frames() {
        let torch = "shape '[2]' is invalid\nException raised from at::foo\nframe #0";
        assert_eq!(first_line(&torch), "shape '[2]' is invalid");
        assert_eq!(first_line(&""), "");
    }
}
