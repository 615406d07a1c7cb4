//! Series that are not pictures (sensor channels, speech features, ...):
//! what the model believes after each of a series' *real* steps
//! ([`explain_sequences`]), the explain picture that plots the channels
//! beside the probabilities ([`series_picture`]), and `errors.png` as small
//! plots of the misclassified series ([`series_errors_png`]).

use std::path::Path;

use image::{Rgb, RgbImage};
use lstm_model::LstmClassifier;
use tch::{Kind, Tensor};

use crate::explain::{self, Explanation, CELL_W, INK, MARGIN, MARK, MAX_ROWS, ROW_H};
use crate::{text, EvalError};

/// Explains every series of `x` `[N, T, F]` (in the model's input layout)
/// up to its own length (`lengths` `[N]`; `None`: all `T` steps): step `t`
/// of a series holds the class probabilities after its first `t` real steps,
/// so padding is never read and a series explains the same alone or in a
/// batch. The recurrent layers compute in `compute` precision.
pub fn explain_sequences(
    model: &LstmClassifier,
    x: &Tensor,
    lengths: Option<&Tensor>,
    compute: Kind,
) -> Result<Vec<Explanation>, EvalError> {
    let size = x.size();
    let lengths: Vec<i64> = match lengths {
        Some(l) => Vec::<i64>::try_from(l.to_kind(Kind::Int64))?,
        None => vec![size.get(1).copied().unwrap_or(0); size.first().copied().unwrap_or(0) as usize],
    };
    let names = &model.spec().class_names;
    let mut explained = Vec::with_capacity(lengths.len());
    for (i, &len) in lengths.iter().enumerate() {
        let one = x.f_narrow(0, i as i64, 1)?.f_narrow(1, 0, len.clamp(1, size[1].max(1)))?;
        let logits = model.step_logits_sequence(&one.f_to_device(model.device())?, compute)?;
        let probs = logits.f_softmax(-1, Kind::Float)?.f_to_device(tch::Device::Cpu)?;
        let classes = probs.size()[2] as usize;
        explained.push(explain::explanation(&Vec::<f32>::try_from(probs.f_flatten(0, -1)?)?, classes, names));
    }
    Ok(explained)
}

/// What [`series_picture`] draws.
#[derive(Debug, Clone, Copy)]
pub struct SeriesPicture<'a> {
    /// The series' real steps, `[steps × features]` row-major.
    pub values: &'a [f32],
    /// Features (channels) per step.
    pub features: usize,
    /// The probabilities after each real step ([`explain_sequences`]).
    pub explanation: &'a Explanation,
    /// Class names, in class order.
    pub class_names: &'a [String],
    /// The true class, when known.
    pub truth: Option<usize>,
}

/// Channels drawn at most (one lane each); the rest are named in the header.
const MAX_LANES: usize = 16;
const LANE_W: u32 = 22;
const LANE_GAP: u32 = 4;
/// Line colours of the channels, cycled.
const PALETTE: [Rgb<u8>; 8] = [
    Rgb([31, 119, 180]),
    Rgb([255, 127, 14]),
    Rgb([44, 160, 44]),
    Rgb([214, 39, 40]),
    Rgb([148, 103, 189]),
    Rgb([140, 86, 75]),
    Rgb([227, 119, 194]),
    Rgb([23, 190, 207]),
];
const LATE: Rgb<u8> = Rgb([185, 185, 200]);
const LATE_BG: Rgb<u8> = Rgb([236, 236, 244]);

/// Draws the explain picture of one series: the title (prediction,
/// probability, deciding step, true class when known); one lane per channel
/// (its values scaled to the lane, time running downwards), greyed after the
/// deciding step; beside it the steps × classes heat map of the
/// probabilities (sampled to 28 rows for longer series), and a red line at
/// the deciding step across both.
pub fn series_picture(p: &SeriesPicture) -> RgbImage {
    let e = p.explanation;
    let steps = e.steps.len().max(1);
    let rows = steps.min(MAX_ROWS);
    let shown: Vec<usize> = (1..=rows).map(|r| (r * steps).div_ceil(rows)).collect();
    let panel_h = rows as u32 * ROW_H;
    let lanes = p.features.clamp(1, MAX_LANES);
    let lanes_w = lanes as u32 * (LANE_W + LANE_GAP);
    let classes = p.class_names.len().max(e.steps.first().map_or(0, Vec::len));
    let top = MARGIN + 40 + 14;
    let heat_x = MARGIN + lanes_w + 8 + 30;
    let legend_y = top + panel_h + 10;
    let width = (heat_x + classes as u32 * CELL_W + 70).max(MARGIN * 2 + text::width("probability 0", 1) + 200);
    let mut img = RgbImage::from_pixel(width, legend_y + 8 + MARGIN, Rgb([255, 255, 255]));

    explain::draw_title(&mut img, e, p.class_names, p.truth, "step");
    draw_lanes(&mut img, p, (MARGIN, top, panel_h), steps);
    explain::draw_heat_panel(&mut img, (e, p.class_names), &shown, (heat_x, top));

    // The deciding step: a red line across the lanes at its time and across
    // the heat map above its row.
    let lane_y = top + ((e.decided_at.max(1) - 1) as f32 / steps as f32 * panel_h as f32) as u32;
    explain::rect(&mut img, (MARGIN - 4, lane_y.saturating_sub(1), lanes_w + 4, 2), MARK);
    let decided_row = shown.iter().position(|&s| s >= e.decided_at).unwrap_or(0) as u32;
    let line_y = (top + decided_row * ROW_H).saturating_sub(1);
    let line_end = heat_x + classes as u32 * CELL_W;
    explain::rect(&mut img, (heat_x - 30, line_y, line_end - heat_x + 30, 2), MARK);
    text::draw(&mut img, "decided", line_end + 4, line_y.saturating_sub(3), 1, MARK);
    explain::draw_legend(&mut img, legend_y);
    img
}

/// [`series_picture`] encoded as PNG bytes.
pub fn series_png(p: &SeriesPicture) -> Result<Vec<u8>, EvalError> {
    explain::png_bytes(&series_picture(p))
}

/// The channel lanes of [`series_picture`] in `(x, top, height)`.
fn draw_lanes(img: &mut RgbImage, p: &SeriesPicture, (x0, top, panel_h): (u32, u32, u32), steps: usize) {
    let decided = p.explanation.decided_at;
    let lanes = p.features.clamp(1, MAX_LANES);
    let late_y = top + (decided as f32 / steps as f32 * panel_h as f32) as u32;
    for lane in 0..lanes {
        let x = x0 + lane as u32 * (LANE_W + LANE_GAP);
        explain::rect(img, (x, late_y, LANE_W, (top + panel_h).saturating_sub(late_y)), LATE_BG);
        let label = (lane + 1).to_string();
        text::draw(img, &label, x + (LANE_W.saturating_sub(text::width(&label, 1))) / 2, top - 12, 1, INK);
        let channel: Vec<f32> = (0..steps).map(|t| value(p.values, p.features, t, lane)).collect();
        let (lo, hi) = channel.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let span = if hi > lo { hi - lo } else { 1.0 };
        let at = |t: usize| {
            let px = x as f32 + 1.0 + (channel[t] - lo) / span * (LANE_W - 3) as f32;
            let py = top as f32 + (t as f32 + 0.5) / steps as f32 * panel_h as f32;
            (px, py)
        };
        for t in 0..steps {
            let colour = if t + 1 > decided { LATE } else { PALETTE[lane % PALETTE.len()] };
            let (from, to) = (at(t.saturating_sub(1)), at(t));
            line(img, from, to, colour);
        }
    }
    if p.features > MAX_LANES {
        let more = format!("+{} channels", p.features - MAX_LANES);
        text::draw(img, &more, x0, top + panel_h + 2, 1, INK);
    }
}

/// Value of step `t`, feature `f` of a row-major `[steps × features]` series (0 when absent).
fn value(values: &[f32], features: usize, t: usize, f: usize) -> f32 {
    values.get(t * features + f).copied().filter(|v| v.is_finite()).unwrap_or(0.0)
}

/// A line of 2-pixel-wide dots from `from` to `to` (pixel coordinates).
fn line(img: &mut RgbImage, (x0, y0): (f32, f32), (x1, y1): (f32, f32), colour: Rgb<u8>) {
    let n = ((x1 - x0).abs().max((y1 - y0).abs()).ceil() as usize).max(1);
    for i in 0..=n {
        let k = i as f32 / n as f32;
        let (x, y) = (x0 + (x1 - x0) * k, y0 + (y1 - y0) * k);
        if x >= 0.0 && y >= 0.0 {
            explain::rect(img, (x as u32, y as u32, 2, 2), colour);
        }
    }
}

/// Draws `errors.png` for series: up to `max` misclassified series of
/// `values` (`[N × T × F]` row-major, each read up to `lengths[i]`) as small
/// plots in a grid of 8 columns, every channel a coloured line over the
/// series' real steps (time to the right, all channels on the tile's common
/// scale), with `T:<true class>` in green and `P:<predicted class>` in red
/// below, by name. Returns how many were drawn.
pub fn series_errors_png(
    path: &Path,
    (values, steps, features): (&[f32], usize, usize),
    lengths: &[i64],
    (truth, predicted): (&[i64], &[i64]),
    class_names: &[String],
    max: usize,
) -> Result<usize, EvalError> {
    let wrong: Vec<usize> = (0..truth.len()).filter(|&i| truth[i] != predicted[i]).take(max).collect();
    let name = |c: i64| {
        let name = usize::try_from(c).ok().and_then(|c| class_names.get(c)).cloned().unwrap_or_else(|| c.to_string());
        text::fit(&name, 14)
    };
    let (plot_w, plot_h, per_row, pad) = (112u32, 64u32, 8u32, 6u32);
    let tile_h = plot_h + 4 + 2 * 10;
    let grid_cols = per_row.min(wrong.len().max(1) as u32);
    let grid_rows = (wrong.len().max(1) as u32).div_ceil(per_row);
    let (w, h) = (pad + grid_cols * (plot_w + pad), pad + grid_rows * (tile_h + pad));
    let mut img = RgbImage::from_pixel(w, h, Rgb([255, 255, 255]));
    for (k, &i) in wrong.iter().enumerate() {
        let (gx, gy) = (pad + (k as u32 % per_row) * (plot_w + pad), pad + (k as u32 / per_row) * (tile_h + pad));
        let len = lengths.get(i).map_or(steps, |&l| (l.max(1) as usize).min(steps));
        let one = values.get(i * steps * features..(i * steps + len) * features).unwrap_or(&[]);
        plot_tile(&mut img, one, (len, features), (gx, gy, plot_w, plot_h));
        let y = gy + plot_h + 4;
        text::draw(&mut img, &format!("T:{}", name(truth[i])), gx, y, 1, Rgb([0, 130, 0]));
        text::draw(&mut img, &format!("P:{}", name(predicted[i])), gx, y + 10, 1, Rgb([200, 0, 0]));
    }
    atomic_file::write_via(
        path,
        |target| img.save(target).map_err(|e| EvalError::Plot { path: path.to_path_buf(), message: e.to_string() }),
        |e| EvalError::Plot { path: path.to_path_buf(), message: e.to_string() },
    )?;
    Ok(wrong.len())
}

/// One small plot of a series' channels (`[steps × features]`) in `(x, y, w, h)`.
fn plot_tile(
    img: &mut RgbImage,
    values: &[f32],
    (steps, features): (usize, usize),
    (x, y, w, h): (u32, u32, u32, u32),
) {
    explain::outline(img, (x, y, w, h), Rgb([200, 200, 200]), 1);
    let finite = values.iter().copied().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let at = |t: usize, f: usize| {
        let px = x as f32 + 2.0 + t as f32 / (steps.max(2) - 1) as f32 * (w - 6) as f32;
        let py = (y + h) as f32 - 3.0 - (value(values, features, t, f) - lo) / span * (h - 6) as f32;
        (px, py)
    };
    for f in 0..features.min(MAX_LANES) {
        for t in 1..steps.max(1) {
            line(img, at(t - 1, f), at(t, f), PALETTE[f % PALETTE.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lstm_model::{ModelConfig, ModelSpec};
    use tch::Device;

    fn model(bidirectional: bool) -> LstmClassifier {
        let config = ModelConfig { hidden: 5, bidirectional, readout: lstm_model::Readout::Mean, ..Default::default() };
        let spec = ModelSpec::new(config, 7, 3, (0..4).map(|c| format!("class {c}")).collect());
        LstmClassifier::new(spec, Device::Cpu).unwrap()
    }

    /// A series explains the same alone (cut to its length) and padded in a
    /// batch beside a longer one with garbage padding, and its last step's
    /// class is the model's prediction for it with lengths.
    #[test]
    fn a_series_explains_over_its_real_steps_only() {
        for bidirectional in [false, true] {
            let m = model(bidirectional);
            let (x, _) = crate::seeded_data(2, &[2, 7, 3], 4);
            let x = x.to_kind(Kind::Float);
            let padded = x.copy();
            let _ = padded.narrow(0, 0, 1).narrow(1, 4, 3).fill_(1000.0);
            let lengths = Tensor::from_slice(&[4i64, 7]);
            let batch = explain_sequences(&m, &padded, Some(&lengths), Kind::Float).unwrap();
            let alone = explain_sequences(&m, &x.narrow(0, 0, 1).narrow(1, 0, 4), None, Kind::Float).unwrap();
            assert_eq!(batch[0].steps.len(), 4);
            assert_eq!(batch[1].steps.len(), 7);
            for (a, b) in batch[0].steps.iter().flatten().zip(alone[0].steps.iter().flatten()) {
                assert!((a - b).abs() < 1e-5, "{a} vs {b}");
            }
            let logits = m.forward_sequences(&padded, Some(&lengths)).unwrap();
            let predicted = Vec::<i64>::try_from(logits.argmax(-1, false)).unwrap();
            assert_eq!(batch.iter().map(|e| e.class as i64).collect::<Vec<_>>(), predicted);
        }
    }

    #[test]
    fn the_series_picture_plots_channels_and_marks_the_decision() {
        let names: Vec<String> = ["up", "down"].iter().map(|s| s.to_string()).collect();
        let steps: Vec<Vec<f32>> = (0..6).map(|t| if t < 3 { vec![0.7, 0.3] } else { vec![0.2, 0.8] }).collect();
        let e = Explanation { class: 1, name: "down".into(), probability: 0.8, steps, decided_at: 4 };
        let values: Vec<f32> = (0..6 * 3).map(|i| ((i * 7) % 5) as f32).collect();
        let p = SeriesPicture { values: &values, features: 3, explanation: &e, class_names: &names, truth: Some(1) };
        let img = series_picture(&p);
        let count = |c: Rgb<u8>| img.pixels().filter(|px| **px == c).count();
        assert!(count(PALETTE[0]) > 10 && count(PALETTE[1]) > 10 && count(PALETTE[2]) > 10, "three channel lines");
        assert_eq!(count(PALETTE[3]), 0, "no fourth channel");
        assert!(count(LATE) > 10 && count(LATE_BG) > 10, "steps after the decision greyed");
        assert!(count(MARK) > 50, "deciding line");
        assert!(series_png(&p).unwrap().starts_with(b"\x89PNG"));
    }

    #[test]
    fn series_errors_are_plotted_up_to_their_lengths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("errors.png");
        let names: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let values: Vec<f32> = (0..3 * 5 * 2).map(|i| (i % 7) as f32).collect();
        let drawn =
            series_errors_png(&path, (&values, 5, 2), &[5, 2, 4], (&[0, 1, 1], &[1, 1, 0]), &names, 48).unwrap();
        assert_eq!(drawn, 2);
        let png = image::open(&path).unwrap().to_rgb8();
        assert_eq!(png.width(), 6 + 2 * (112 + 6));
        assert!(png.pixels().filter(|p| p.0 == PALETTE[1].0).count() > 20, "second channel drawn");
        assert!(png.pixels().any(|p| p.0 == [200, 0, 0]) && png.pixels().any(|p| p.0 == [0, 130, 0]), "captions");
    }
}
