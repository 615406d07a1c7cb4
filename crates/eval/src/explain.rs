//! What the model believes after each step of one image: the numbers
//! ([`explain`]) and the picture ([`explain_png`]): the image, dimmed where
//! it was not yet read when the model made up its mind, beside a
//! steps × classes heat map of the probabilities.

use std::io::Cursor;

use image::{Rgb, RgbImage};
use lstm_model::{LstmClassifier, Sequence};
use serde::Serialize;
use tch::{Kind, Tensor};

use crate::{text, EvalError};

/// The class probabilities of one image after every step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    /// The final prediction (the class after the last step, as `predict` gives it).
    pub class: usize,
    /// Its name.
    pub name: String,
    /// Its final probability.
    pub probability: f32,
    /// `steps[t]`: every class's probability after reading steps `1..=t + 1`.
    pub steps: Vec<Vec<f32>>,
    /// First step (1-based) from which the most probable class no longer changes.
    pub decided_at: usize,
}

/// Explains every image of `images` `[N, height, width]` (`f32` in `[0, 1]`),
/// the recurrent layers computed in `compute` precision (`Kind::Float` for fp32).
pub fn explain(model: &LstmClassifier, images: &Tensor, compute: Kind) -> Result<Vec<Explanation>, EvalError> {
    let logits = model.step_logits_with(&images.f_to_device(model.device())?, compute)?;
    let probs = logits.f_softmax(-1, Kind::Float)?.f_to_device(tch::Device::Cpu)?;
    let size = probs.size();
    let (steps, classes) = (size[1] as usize, size[2] as usize);
    let flat = Vec::<f32>::try_from(probs.f_flatten(0, -1)?)?;
    let names = &model.spec().class_names;
    Ok(flat.chunks(steps * classes).map(|image| explanation(image, classes, names)).collect())
}

/// The explanation of one sequence from its probabilities `[steps × classes]`, row-major.
pub(crate) fn explanation(probabilities: &[f32], classes: usize, names: &[String]) -> Explanation {
    let steps: Vec<Vec<f32>> = probabilities.chunks(classes.max(1)).map(<[f32]>::to_vec).collect();
    let argmax: Vec<usize> = steps.iter().map(|p| argmax(p)).collect();
    let class = argmax.last().copied().unwrap_or(0);
    let probability = steps.last().map_or(0.0, |p| p[class]);
    let name = names.get(class).cloned().unwrap_or_else(|| class.to_string());
    Explanation { class, name, probability, decided_at: lstm_model::decided_at(&argmax), steps }
}

fn argmax(p: &[f32]) -> usize {
    p.iter().enumerate().fold(0, |best, (i, &v)| if v > p[best] { i } else { best })
}

/// For each pixel of a `height × width` image (row-major), the step
/// (1-based) at which the model reads it.
pub fn read_order(model: &LstmClassifier) -> Vec<usize> {
    let spec = model.spec();
    let (h, w) = (spec.image_height as usize, spec.image_width as usize);
    match spec.config.sequence {
        Sequence::Rows => (0..h * w).map(|i| i / w + 1).collect(),
        Sequence::Pixels => (1..=h * w).collect(),
        Sequence::PermutedPixels => {
            let mut at = vec![0; h * w];
            for (step, pixel) in lstm_model::pixel_permutation(spec.config.permutation_seed, h * w).iter().enumerate() {
                at[*pixel as usize] = step + 1;
            }
            at
        }
    }
}

/// What [`explain_png`] draws.
#[derive(Debug, Clone, Copy)]
pub struct ExplainPicture<'a> {
    /// The image's pixels in `[0, 1]`, row-major.
    pub pixels: &'a [f32],
    /// Image height and width.
    pub shape: (usize, usize),
    /// Step at which each pixel is read ([`read_order`]).
    pub read_at: &'a [usize],
    /// The probabilities.
    pub explanation: &'a Explanation,
    /// Class names, in class order.
    pub class_names: &'a [String],
    /// The true class, when known.
    pub truth: Option<usize>,
    /// What a step is called: "row" for the row layout, else "step".
    pub unit: &'a str,
}

/// Heat-map rows at most (pixel layouts sample their steps).
pub(crate) const MAX_ROWS: usize = 28;
pub(crate) const ROW_H: u32 = 10;
pub(crate) const CELL_W: u32 = 34;
pub(crate) const MARGIN: u32 = 12;
pub(crate) const INK: Rgb<u8> = Rgb([20, 20, 20]);
pub(crate) const MARK: Rgb<u8> = Rgb([220, 40, 30]);
pub(crate) const FINAL: Rgb<u8> = Rgb([255, 150, 0]);

/// Probability 0 is white, 1 dark blue.
pub(crate) fn heat(p: f32) -> Rgb<u8> {
    let p = p.clamp(0.0, 1.0);
    let mix = |from: f32, to: f32| (from + (to - from) * p).round() as u8;
    Rgb([mix(255.0, 8.0), mix(255.0, 48.0), mix(255.0, 107.0)])
}

pub(crate) fn rect(img: &mut RgbImage, (x, y, w, h): (u32, u32, u32, u32), colour: Rgb<u8>) {
    for py in y..(y + h).min(img.height()) {
        for px in x..(x + w).min(img.width()) {
            img.put_pixel(px, py, colour);
        }
    }
}

pub(crate) fn outline(img: &mut RgbImage, (x, y, w, h): (u32, u32, u32, u32), colour: Rgb<u8>, thick: u32) {
    rect(img, (x, y, w, thick), colour);
    rect(img, (x, y + h - thick, w, thick), colour);
    rect(img, (x, y, thick, h), colour);
    rect(img, (x + w - thick, y, thick, h), colour);
}

/// Draws the picture of one explanation: a title (prediction, its
/// probability, the deciding step, the true class when known), the image
/// with every pixel read after the deciding step dimmed, beside a heat map
/// whose row `t` holds the class probabilities after step `t` (sampled to 28
/// rows for longer sequences), the final class's column outlined and a red
/// line at the deciding step across both.
pub fn explain_picture(p: &ExplainPicture) -> RgbImage {
    let e = p.explanation;
    let steps = e.steps.len().max(1);
    let rows = steps.min(MAX_ROWS);
    // Heat-map row r shows step shown[r] (1-based).
    let shown: Vec<usize> = (1..=rows).map(|r| (r * steps).div_ceil(rows)).collect();
    let (h, w) = p.shape;
    let panel_h = rows as u32 * ROW_H;
    let zoom = (panel_h / h.max(1) as u32).max(1);
    let (img_w, img_h) = (w as u32 * zoom, h as u32 * zoom);
    let classes = p.class_names.len().max(e.steps.first().map_or(0, Vec::len));
    let title_h = 16 + 6 + 8 + 10;
    let header_h = 14;
    let top = MARGIN + title_h + header_h;
    let axis_w = 30;
    let heat_x = MARGIN + img_w + 8 + axis_w;
    let body_h = panel_h.max(img_h);
    let legend_y = top + body_h + 10;
    let width = (heat_x + classes as u32 * CELL_W + 70).max(MARGIN * 2 + text::width("probability 0", 1) + 200);
    let mut img = RgbImage::from_pixel(width, legend_y + 8 + MARGIN, Rgb([255, 255, 255]));

    let unit = p.unit;
    draw_title(&mut img, e, p.class_names, p.truth, unit);

    // The image: pixels read after the deciding step are dimmed.
    for y in 0..h {
        for x in 0..w {
            let v = p.pixels.get(y * w + x).copied().unwrap_or(0.0).clamp(0.0, 1.0);
            let late = p.read_at.get(y * w + x).is_some_and(|&s| s > e.decided_at);
            let g = if late { 60.0 + v * 70.0 } else { v * 255.0 };
            let colour = if late { Rgb([g as u8, g as u8, (g * 1.25).min(255.0) as u8]) } else { Rgb([g as u8; 3]) };
            rect(&mut img, (MARGIN + x as u32 * zoom, top + y as u32 * zoom, zoom, zoom), colour);
        }
    }

    draw_heat_panel(&mut img, (e, p.class_names), &shown, (heat_x, top));

    // The deciding step: a red line above its row, across image and heat map.
    let decided_row = shown.iter().position(|&s| s >= e.decided_at).unwrap_or(0) as u32;
    let line_y = top + decided_row * ROW_H;
    let line_y = line_y.saturating_sub(1);
    let line_end = heat_x + classes as u32 * CELL_W;
    if unit == "row" {
        rect(&mut img, (MARGIN - 4, line_y, line_end - MARGIN + 4, 2), MARK);
    } else {
        rect(&mut img, (heat_x - axis_w, line_y, line_end - heat_x + axis_w, 2), MARK);
    }
    text::draw(&mut img, "decided", line_end + 4, line_y.saturating_sub(3), 1, MARK);

    draw_legend(&mut img, legend_y);
    img
}

/// The title line (prediction, probability, deciding step) and, when the
/// true class is known, whether the prediction is right.
pub(crate) fn draw_title(
    img: &mut RgbImage,
    e: &Explanation,
    class_names: &[String],
    truth: Option<usize>,
    unit: &str,
) {
    let steps = e.steps.len().max(1);
    let title = format!("{} ({:.2}), decided at {unit} {} of {steps}", e.name, e.probability, e.decided_at);
    text::draw(img, &title, MARGIN, MARGIN, 2, INK);
    if let Some(t) = truth {
        let name = class_names.get(t).cloned().unwrap_or_else(|| t.to_string());
        let (line, colour) = if t == e.class {
            (format!("true class {name}: right"), Rgb([0, 130, 0]))
        } else {
            (format!("true class {name}: wrong"), MARK)
        };
        text::draw(img, &line, MARGIN, MARGIN + 22, 1, colour);
    }
}

/// The steps × classes heat map at `(heat_x, top)`: row `r` holds the
/// probabilities after step `shown[r]`, step numbers at its left, class
/// names above, the final class's column outlined.
pub(crate) fn draw_heat_panel(
    img: &mut RgbImage,
    (e, class_names): (&Explanation, &[String]),
    shown: &[usize],
    (heat_x, top): (u32, u32),
) {
    let classes = class_names.len().max(e.steps.first().map_or(0, Vec::len));
    let panel_h = shown.len() as u32 * ROW_H;
    let header_h = 14;
    // Step numbers beside the heat map, every 7th row (and the first).
    for (r, &step) in shown.iter().enumerate() {
        if r == 0 || (r + 1) % 7 == 0 {
            let label = step.to_string();
            let x = heat_x - 4 - text::width(&label, 1);
            text::draw(img, &label, x, top + r as u32 * ROW_H + 1, 1, INK);
        }
    }
    // Column headers: class names cut to the cell.
    let chars = (CELL_W / 8) as usize;
    for c in 0..classes {
        let name = class_names.get(c).cloned().unwrap_or_else(|| c.to_string());
        let label = text::fit(&name, chars);
        let x = heat_x + c as u32 * CELL_W + (CELL_W - text::width(&label, 1)) / 2;
        let colour = if c == e.class { Rgb([200, 100, 0]) } else { INK };
        text::draw(img, &label, x, top - header_h + 2, 1, colour);
    }
    for (r, &step) in shown.iter().enumerate() {
        for c in 0..classes {
            let prob = e.steps.get(step - 1).and_then(|s| s.get(c)).copied().unwrap_or(0.0);
            rect(img, (heat_x + c as u32 * CELL_W, top + r as u32 * ROW_H, CELL_W - 1, ROW_H - 1), heat(prob));
        }
    }
    outline(img, (heat_x + e.class as u32 * CELL_W - 2, top - 2, CELL_W + 3, panel_h + 3), FINAL, 2);
}

/// The colour scale below the picture.
pub(crate) fn draw_legend(img: &mut RgbImage, legend_y: u32) {
    let mut x = MARGIN;
    x += text::draw(img, "probability 0 ", x, legend_y, 1, INK);
    for i in 0..100 {
        rect(img, (x + i, legend_y, 1, 8), heat(i as f32 / 99.0));
    }
    text::draw(img, " 1", x + 100, legend_y, 1, INK);
}

/// [`explain_picture`] encoded as PNG bytes.
pub fn explain_png(p: &ExplainPicture) -> Result<Vec<u8>, EvalError> {
    png_bytes(&explain_picture(p))
}

/// An RGB picture as PNG bytes.
pub fn png_bytes(img: &RgbImage) -> Result<Vec<u8>, EvalError> {
    let mut bytes = Vec::new();
    img.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .map_err(|e| EvalError::Plot { path: "explain.png".into(), message: e.to_string() })?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lstm_model::{ModelConfig, ModelSpec};
    use tch::Device;

    fn model(sequence: Sequence) -> LstmClassifier {
        let spec = ModelSpec::new(
            ModelConfig { hidden: 6, sequence, ..Default::default() },
            6,
            5,
            (0..4).map(|c| format!("class {c}")).collect(),
        );
        LstmClassifier::new(spec, Device::Cpu).unwrap()
    }

    #[test]
    fn explanations_end_with_the_prediction() {
        let m = model(Sequence::Rows);
        let (images, _) = crate::seeded_data(1, &[3, 6, 5], 4);
        let explained = explain(&m, &images, Kind::Float).unwrap();
        let predicted = m.predict(&images).unwrap();
        for (e, p) in explained.iter().zip(&predicted) {
            assert_eq!((e.class, &e.name), (p.class, &p.name));
            assert!((e.probability - p.probability).abs() < 1e-5);
            assert_eq!(e.steps.len(), 6);
            assert!(e.steps.iter().all(|s| s.len() == 4 && (s.iter().sum::<f32>() - 1.0).abs() < 1e-5));
            assert!((1..=6).contains(&e.decided_at));
        }
    }

    #[test]
    fn read_order_covers_every_pixel_once() {
        let rows = read_order(&model(Sequence::Rows));
        assert_eq!(&rows[..6], &[1, 1, 1, 1, 1, 2]);
        for sequence in [Sequence::Pixels, Sequence::PermutedPixels] {
            let mut order = read_order(&model(sequence));
            order.sort_unstable();
            assert_eq!(order, (1..=30).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_picture_marks_the_final_class_and_the_deciding_row() {
        let names: Vec<String> = ["zero", "one", "two"].iter().map(|s| s.to_string()).collect();
        let steps: Vec<Vec<f32>> =
            (0..4).map(|t| if t < 2 { vec![0.6, 0.3, 0.1] } else { vec![0.1, 0.1, 0.8] }).collect();
        let e = Explanation { class: 2, name: "two".into(), probability: 0.8, steps, decided_at: 3 };
        let pixels = vec![1.0f32; 16];
        let read_at: Vec<usize> = (0..16).map(|i| i / 4 + 1).collect();
        let picture = ExplainPicture {
            pixels: &pixels,
            shape: (4, 4),
            read_at: &read_at,
            explanation: &e,
            class_names: &names,
            truth: Some(0),
            unit: "row",
        };
        let img = explain_picture(&picture);
        let count = |c: Rgb<u8>| img.pixels().filter(|p| **p == c).count();
        assert!(count(MARK) > 100, "red deciding line and 'wrong'");
        assert!(count(FINAL) > 50, "final class outlined");
        // Rows 1-3 are read by the deciding step (white), row 4 is dimmed.
        let zoom = (4 * ROW_H) / 4;
        let top = MARGIN + 40 + 14;
        assert_eq!(img.get_pixel(MARGIN + 1, top + 1).0, [255, 255, 255]);
        assert_ne!(img.get_pixel(MARGIN + 1, top + 3 * zoom + 1).0, [255, 255, 255]);
        assert!(png_bytes(&img).unwrap().starts_with(b"\x89PNG"));
    }
}
