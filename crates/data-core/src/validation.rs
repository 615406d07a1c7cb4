//! How many training examples to hold out for validation (`data.validation`),
//! and [`short_float`] for messages.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DataCoreError;

/// A float for a message: exponent notation when plain notation would be
/// long (`1e-300`, not 300 digits).
pub fn short_float(v: f64) -> String {
    let plain = if v.fract() == 0.0 && v.abs() < 1e12 { format!("{v:.1}") } else { v.to_string() };
    if plain.len() > 12 && v != 0.0 {
        format!("{v:e}")
    } else {
        plain
    }
}

/// How many training images to hold out for validation: a count (`5000`)
/// or a fraction of the training images (`0.1`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValidationSize {
    /// This many images.
    Count(usize),
    /// This fraction (strictly between 0 and 1) of the training images, rounded.
    Fraction(f64),
}

impl ValidationSize {
    /// The number of images to hold out of `train` training images.
    pub fn count(&self, train: usize) -> Result<usize, DataCoreError> {
        let invalid = |value: String, hint: String| Err(DataCoreError::invalid_config("data.validation", value, hint));
        match *self {
            ValidationSize::Count(n) if n < train => Ok(n),
            ValidationSize::Count(n) => invalid(
                n.to_string(),
                format!("it would leave no training images out of {train}; use a smaller count or a fraction"),
            ),
            ValidationSize::Fraction(f) if f > 0.0 && f < 1.0 => {
                let n = (f * train as f64).round() as usize;
                if n == 0 || n >= train {
                    invalid(short_float(f), format!("this fraction of {train} training images leaves an empty split"))
                } else {
                    Ok(n)
                }
            }
            ValidationSize::Fraction(f) => {
                invalid(short_float(f), "use a count (an integer) or a fraction strictly between 0 and 1".into())
            }
        }
    }
}

impl Serialize for ValidationSize {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match *self {
            ValidationSize::Count(n) => s.serialize_u64(n as u64),
            ValidationSize::Fraction(f) => s.serialize_f64(f),
        }
    }
}

impl<'de> Deserialize<'de> for ValidationSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = ValidationSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count of images (5000) or a fraction between 0 and 1 (0.1)")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
                Ok(ValidationSize::Count(v as usize))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
                u64::try_from(v).map(|v| ValidationSize::Count(v as usize)).map_err(|_| {
                    E::custom(format!("{v} is negative: expected {}", "a count or a fraction between 0 and 1"))
                })
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> std::result::Result<Self::Value, E> {
                // A number written with a point or an exponent is a fraction; a count is an integer.
                if v > 0.0 && v < 1.0 {
                    Ok(ValidationSize::Fraction(v))
                } else {
                    Err(E::custom(format!(
                        "{}: a fraction must be strictly between 0 and 1 (0.1), a count an integer without a point (5000)",
                        short_float(v)
                    )))
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_fractions_parse_and_leave_a_training_split() {
        let parse = |v: serde_json::Value| serde_json::from_value::<ValidationSize>(v);
        assert_eq!(parse(serde_json::json!(5000)).unwrap(), ValidationSize::Count(5000));
        assert_eq!(parse(serde_json::json!(0.1)).unwrap(), ValidationSize::Fraction(0.1));
        for bad in [serde_json::json!(-1), serde_json::json!(1.5), serde_json::json!(1.0), serde_json::json!("x")] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
        assert_eq!(ValidationSize::Fraction(0.25).count(100).unwrap(), 25);
        let err = ValidationSize::Count(100).count(100).unwrap_err();
        assert!(err.is_config() && err.to_string().contains("data.validation"), "{err}");
        assert!(ValidationSize::Fraction(1e-300).count(8000).unwrap_err().to_string().contains("1e-300"));
        assert_eq!(short_float(3.0), "3.0");
    }
}
