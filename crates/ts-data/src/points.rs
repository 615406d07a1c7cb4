//! `data.points_per_step`: how many consecutive points of a series the
//! model reads as one time step (issue 25), a number or `"auto"`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most points per step (as `lstm_model::MAX_POINTS_PER_STEP`).
pub const MAX_POINTS_PER_STEP: u32 = 1 << 16;

/// Consecutive points (all dimensions) per model time step: in a config a
/// whole number `k >= 1` or `"auto"`. Default `1`.
///
/// A series of `T` points of `F` dimensions is read as `ceil(T / k)` steps of
/// `k × F` values (the last step zero-padded), as the notebook reads a 28 × 28
/// picture as 28 steps of 28 pixels rather than 784 steps of one. The choice
/// is saved in the model's `model.json` (input `sequence`,
/// `points_per_step`), so predict, explain, export and serve group the same way.
///
/// `"auto"` ([`PointsPerStep::resolve`]): about the square root of the
/// training series' median length `m`, as 28 = sqrt(784), preferring a `k`
/// that cuts `m` points into whole steps: among the `k` within 25 % of
/// `sqrt(m)`, the one leaving the fewest padded points in the last step of a
/// series of `m` points (`ceil(m / k) × k − m`), ties to the nearest `sqrt(m)`,
/// then the smaller. GunPoint (150 points): 10; BasicMotions (100): 10;
/// OSULeaf (427): 18; JapaneseVowels (median 15.5 → 16): 4; ItalyPowerDemand
/// (24): 4. The chosen value is logged.
///
/// ```
/// use ts_data::PointsPerStep;
/// let auto: PointsPerStep = serde_json::from_str(r#""auto""#).unwrap();
/// assert_eq!(auto.resolve(&[150, 150, 150]), 10);
/// assert_eq!(serde_json::from_str::<PointsPerStep>("10").unwrap().resolve(&[150]), 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointsPerStep {
    /// Exactly this many points per step.
    Fixed(u32),
    /// The square root of the training series' median length, rounded.
    Auto,
}

impl Default for PointsPerStep {
    fn default() -> Self {
        PointsPerStep::Fixed(1)
    }
}

impl PointsPerStep {
    /// The points per step for training series of `lengths` (in points).
    pub fn resolve(self, lengths: &[usize]) -> u32 {
        match self {
            PointsPerStep::Fixed(k) => k,
            PointsPerStep::Auto => auto_points(median(lengths)),
        }
    }
}

/// The median of `lengths`, rounded to whole points (1 for none).
fn median(lengths: &[usize]) -> usize {
    let mut sorted = lengths.to_vec();
    sorted.sort_unstable();
    match sorted.len() {
        0 => 1,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]).div_ceil(2),
    }
}

/// The `"auto"` rule for series of `m` points (see [`PointsPerStep`]).
fn auto_points(m: usize) -> u32 {
    let root = (m.max(1) as f64).sqrt();
    let low = ((root * 0.75).ceil() as usize).max(1);
    let high = ((root * 1.25).floor() as usize).max(low);
    let padding = |k: usize| m.div_ceil(k) * k - m;
    let best = (low..=high).min_by(|&a, &b| {
        let key = |k: usize| (padding(k), (k as f64 - root).abs());
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1)).then(a.cmp(&b))
    });
    u32::try_from(best.unwrap_or(1)).unwrap_or(MAX_POINTS_PER_STEP).clamp(1, MAX_POINTS_PER_STEP)
}

impl fmt::Display for PointsPerStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PointsPerStep::Fixed(k) => write!(f, "{k}"),
            PointsPerStep::Auto => f.write_str("auto"),
        }
    }
}

impl Serialize for PointsPerStep {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PointsPerStep::Fixed(k) => s.serialize_u32(*k),
            PointsPerStep::Auto => s.serialize_str("auto"),
        }
    }
}

impl<'de> Deserialize<'de> for PointsPerStep {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = PointsPerStep;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a whole number of points per step from 1 to {MAX_POINTS_PER_STEP}, or \"auto\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<PointsPerStep, E> {
                match u32::try_from(v) {
                    Ok(k) if (1..=MAX_POINTS_PER_STEP).contains(&k) => Ok(PointsPerStep::Fixed(k)),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Unsigned(v), &self)),
                }
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<PointsPerStep, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::invalid_value(serde::de::Unexpected::Signed(v), &self)),
                }
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<PointsPerStep, E> {
                match v {
                    "auto" => Ok(PointsPerStep::Auto),
                    other => match other.parse::<u64>() {
                        Ok(k) => self.visit_u64(k),
                        Err(_) => Err(E::invalid_value(serde::de::Unexpected::Str(other), &self)),
                    },
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
    fn auto_is_near_the_square_root_of_the_median_length_in_whole_steps() {
        // GunPoint: 10 and 15 cut 150 points into whole steps; 10 is nearer sqrt(150) = 12.2.
        assert_eq!(PointsPerStep::Auto.resolve(&[150; 50]), 10);
        assert_eq!(PointsPerStep::Auto.resolve(&[100; 40]), 10);
        // OSULeaf: no k in 16..=25 divides 427; 16, 18 and 24 leave 5 points of padding, 18 is nearest 20.7.
        assert_eq!(PointsPerStep::Auto.resolve(&[427; 3]), 18);
        assert_eq!(PointsPerStep::Auto.resolve(&[784]), 28);
        // Median of 7, 15, 16, 29 is 15.5, taken as 16: 4 steps of 4.
        assert_eq!(PointsPerStep::Auto.resolve(&[29, 7, 16, 15]), 4);
        assert_eq!(PointsPerStep::Auto.resolve(&[24; 67]), 4);
        assert_eq!(PointsPerStep::Auto.resolve(&[1, 1]), 1);
        assert_eq!(PointsPerStep::Auto.resolve(&[2]), 2);
        assert_eq!(PointsPerStep::Auto.resolve(&[]), 1);
        assert_eq!(PointsPerStep::Fixed(3).resolve(&[100]), 3);
    }

    #[test]
    fn numbers_and_auto_parse_and_others_are_refused() {
        let parse = |v: serde_json::Value| serde_json::from_value::<PointsPerStep>(v);
        assert_eq!(parse(serde_json::json!(10)).unwrap(), PointsPerStep::Fixed(10));
        assert_eq!(parse(serde_json::json!("auto")).unwrap(), PointsPerStep::Auto);
        assert_eq!(parse(serde_json::json!("7")).unwrap(), PointsPerStep::Fixed(7));
        for bad in [serde_json::json!(0), serde_json::json!(-2), serde_json::json!(1.5), serde_json::json!("sqrt")] {
            let err = parse(bad.clone()).unwrap_err().to_string();
            assert!(err.contains("\"auto\""), "{bad}: {err}");
        }
        assert_eq!(serde_json::to_value(PointsPerStep::Auto).unwrap(), "auto");
        assert_eq!(serde_json::to_value(PointsPerStep::Fixed(4)).unwrap(), 4);
    }
}
