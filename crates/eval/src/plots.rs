//! Pictures of a run: training curves and the confusion matrix as SVG
//! (plotters), misclassified images as a PNG grid (image) captioned with a
//! tiny built-in bitmap font, so that no font file is needed.

use std::path::Path;

use image::{Rgb, RgbImage};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::{text, Decision, EvalError, EvalReport};

/// One point of a training curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    /// Optimisation step.
    pub step: f64,
    /// Loss at that step.
    pub loss: f64,
    /// Accuracy at that step, 0 to 1.
    pub accuracy: f64,
}

fn write_err(path: &Path) -> impl Fn(std::io::Error) -> EvalError + '_ {
    move |e| EvalError::Plot { path: path.to_owned(), message: e.to_string() }
}

fn plot_err(path: &Path) -> impl Fn(String) -> EvalError + '_ {
    move |message| EvalError::Plot { path: path.to_owned(), message }
}

/// Draws `curves.svg`: loss (left) and accuracy (right) against the step, for
/// the training minibatches and, if any, the validation split.
pub fn curves_svg(path: &Path, train: &[CurvePoint], validation: &[CurvePoint]) -> Result<(), EvalError> {
    atomic_file::write_via(path, |target| draw_curves(target, path, train, validation), write_err(path))
}

/// Draws into the file `target`; errors name `path`.
fn draw_curves(target: &Path, path: &Path, train: &[CurvePoint], validation: &[CurvePoint]) -> Result<(), EvalError> {
    let err = plot_err(path);
    let root = SVGBackend::new(target, (1000, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let (left, right) = root.split_horizontally(500);
    let max_step = train.iter().chain(validation).map(|p| p.step).fold(1.0, f64::max);
    let max_loss = train.iter().chain(validation).map(|p| p.loss).filter(|l| l.is_finite()).fold(0.1, f64::max) * 1.05;
    for (area, title, y_max, pick) in [
        (&left, "loss", max_loss, (|p: &CurvePoint| p.loss) as fn(&CurvePoint) -> f64),
        (&right, "accuracy", 1.0, |p: &CurvePoint| p.accuracy),
    ] {
        let mut chart = step_chart(area, title, max_step, y_max).map_err(&err)?;
        for (points, name, colour) in [(train, "training minibatch", BLUE), (validation, "validation", RED)] {
            if points.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(points.iter().map(|p| (p.step, pick(p))), colour.stroke_width(2)))
                .map_err(|e| err(e.to_string()))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
        }
        draw_legend(&mut chart, title == "loss").map_err(&err)?;
    }
    root.present().map_err(|e| err(e.to_string()))
}

/// The chart of one step-curve panel on `area` (used by `curves.svg` and by
/// the binary's `compare.svg`): `title` above, the step from 0 to `max_step`
/// across (whole-number labels), 0 to `y_max` up, the mesh drawn.
pub fn step_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    title: &str,
    max_step: f64,
    y_max: f64,
) -> Result<StepChart<'a, DB>, String> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..max_step, 0.0..y_max)
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("step")
        .x_label_formatter(&tick_label)
        .y_label_formatter(&tick_label)
        .draw()
        .map_err(|e| e.to_string())?;
    Ok(chart)
}

/// A chart made by [`step_chart`].
pub type StepChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws the legend of the labelled series of `chart`: in the upper right
/// corner (falling curves such as a loss) or the lower right (rising ones).
pub fn draw_legend<'a, DB: DrawingBackend + 'a>(
    chart: &mut StepChart<'a, DB>,
    upper_right: bool,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(if upper_right { SeriesLabelPosition::UpperRight } else { SeriesLabelPosition::LowerRight })
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}

/// An axis label: whole numbers without a decimal point, others with up to 3 decimals.
pub fn tick_label(v: &f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}").trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// Draws `decision.svg`: the accuracy the model would have if it stopped
/// reading after `k` steps, against `k`, with the mean decision step marked.
/// `unit` names a step in the axis label ("rows" for the row layout).
pub fn decision_svg(path: &Path, decision: &Decision, unit: &str) -> Result<(), EvalError> {
    atomic_file::write_via(path, |target| draw_decision(target, path, decision, unit), write_err(path))
}

/// Draws into the file `target`; errors name `path`.
fn draw_decision(target: &Path, path: &Path, decision: &Decision, unit: &str) -> Result<(), EvalError> {
    let err = plot_err(path);
    let root = SVGBackend::new(target, (640, 400)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let steps = decision.steps.max(1) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption("accuracy when stopping early", ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..steps, 0.0..1.0)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc(format!("{unit} read"))
        .y_desc("test accuracy")
        .x_label_formatter(&tick_label)
        .y_label_formatter(&tick_label)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    let points: Vec<(f64, f64)> = decision.early_exit.iter().enumerate().map(|(k, &a)| ((k + 1) as f64, a)).collect();
    chart.draw_series(LineSeries::new(points.iter().copied(), BLUE.stroke_width(2))).map_err(|e| err(e.to_string()))?;
    if points.len() <= 64 {
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, BLUE.filled()))).map_err(|e| err(e.to_string()))?;
    }
    let mean = decision.mean;
    chart
        .draw_series(LineSeries::new([(mean, 0.0), (mean, 1.0)], RED.stroke_width(1)))
        .map_err(|e| err(e.to_string()))?;
    // The label goes beside the line, on the wider side, and above or below
    // the curve there, whichever is free.
    let label = format!("mean decision: {mean:.1} {unit}");
    let left = mean > steps / 2.0;
    let beside = points.iter().filter(|p| (p.0 < mean) == left).map(|p| p.1);
    let top = beside.fold(0.0, f64::max) < 0.8;
    let x = if left { mean - steps * 0.02 } else { mean + steps * 0.02 };
    let anchor = (x, if top { 0.97 } else { 0.03 });
    let style = ("sans-serif", 14)
        .into_font()
        .color(&RED)
        .pos(Pos::new(if left { HPos::Right } else { HPos::Left }, if top { VPos::Top } else { VPos::Bottom }));
    chart.draw_series([Text::new(label, anchor, style)]).map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))
}

/// Draws `confusion.svg`: a heat map of the confusion matrix, each row
/// shaded by the fraction of its true class, with the counts written in.
pub fn confusion_svg(path: &Path, report: &EvalReport) -> Result<(), EvalError> {
    atomic_file::write_via(path, |target| draw_confusion(target, path, report), write_err(path))
}

/// Draws into the file `target`; errors name `path`.
fn draw_confusion(target: &Path, path: &Path, report: &EvalReport) -> Result<(), EvalError> {
    let err = plot_err(path);
    let k = report.confusion.len() as i32;
    let cell = 48;
    let (left, top) = (130, 70);
    let size = ((left + k * cell + 20) as u32, (top + k * cell + 20) as u32);
    let root = SVGBackend::new(target, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let text = |s: &str, x: i32, y: i32, size: f64, colour: RGBColor| {
        Text::new(s.to_owned(), (x, y), ("sans-serif", size).into_font().color(&colour))
    };
    root.draw(&text("confusion matrix: rows true class, columns predicted", 10, 10, 16.0, BLACK))
        .map_err(|e| err(e.to_string()))?;
    for (t, row) in report.confusion.iter().enumerate() {
        let support: i64 = row.iter().sum::<i64>().max(1);
        let y = top + t as i32 * cell;
        let name = &report.classes[t].class;
        root.draw(&text(name, 8, y + cell / 2 - 7, 13.0, BLACK)).map_err(|e| err(e.to_string()))?;
        for (p, &count) in row.iter().enumerate() {
            let x = left + p as i32 * cell;
            let share = count as f64 / support as f64;
            let shade = (255.0 * (1.0 - share)) as u8;
            let fill = if t == p {
                RGBColor(shade, shade.saturating_add(40).max(shade), shade)
            } else {
                RGBColor(255, shade, shade)
            };
            root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], fill.filled()))
                .map_err(|e| err(e.to_string()))?;
            root.draw(&Rectangle::new([(x, y), (x + cell, y + cell)], RGBColor(200, 200, 200)))
                .map_err(|e| err(e.to_string()))?;
            let ink = if share > 0.6 { WHITE } else { BLACK };
            root.draw(&text(&count.to_string(), x + 6, y + cell / 2 - 7, 13.0, ink)).map_err(|e| err(e.to_string()))?;
        }
    }
    for (p, c) in report.classes.iter().enumerate() {
        let short: String = c.class.chars().take(6).collect();
        root.draw(&text(&short, left + p as i32 * cell + 4, top - 20, 12.0, BLACK)).map_err(|e| err(e.to_string()))?;
    }
    root.present().map_err(|e| err(e.to_string()))
}

/// The confusion matrix as a bitmap (for TensorBoard's image tab): one
/// 40-pixel cell per (true, predicted) pair, shaded by the fraction of the
/// row, the count written in, class names (cut to 4 characters) on both axes.
pub fn confusion_picture(report: &EvalReport) -> RgbImage {
    let k = report.confusion.len() as u32;
    let (cell, left, top) = (40u32, 44u32, 30u32);
    let mut img = RgbImage::from_pixel(left + k * cell + 8, top + k * cell + 8, Rgb([255, 255, 255]));
    text::draw(&mut img, "rows: true, columns: predicted", 4, 4, 1, Rgb([0, 0, 0]));
    for (t, row) in report.confusion.iter().enumerate() {
        let support = row.iter().sum::<i64>().max(1) as f64;
        let name = report.classes.get(t).map_or(t.to_string(), |c| text::fit(&c.class, 4));
        text::draw(&mut img, &name, 4, top + t as u32 * cell + 16, 1, Rgb([0, 0, 0]));
        text::draw(&mut img, &name, left + t as u32 * cell + 4, top - 12, 1, Rgb([0, 0, 0]));
        for (p, &count) in row.iter().enumerate() {
            let share = count as f64 / support;
            let shade = (255.0 * (1.0 - share)) as u8;
            let fill = if t == p { Rgb([shade, shade.saturating_add(40), shade]) } else { Rgb([255, shade, shade]) };
            let (x, y) = (left + p as u32 * cell, top + t as u32 * cell);
            for py in y..y + cell - 1 {
                for px in x..x + cell - 1 {
                    img.put_pixel(px, py, fill);
                }
            }
            let ink = if share > 0.6 { Rgb([255, 255, 255]) } else { Rgb([0, 0, 0]) };
            text::draw(&mut img, &count.to_string(), x + 4, y + 16, 1, ink);
        }
    }
    img
}

/// Draws `errors.png`: up to `max` misclassified images (`images` is `[N,
/// rows, cols]` in `[0, 1]`, row-major), in a grid of 8 columns, each
/// enlarged 3× with two caption lines below, `T:<true class>` in green and
/// `P:<predicted class>` in red, by name (`class_names`; indices when a name
/// is missing). Returns how many were drawn.
pub fn errors_png(
    path: &Path,
    images: &[f32],
    (rows, cols): (usize, usize),
    (truth, predicted): (&[i64], &[i64]),
    class_names: &[String],
    max: usize,
) -> Result<usize, EvalError> {
    let wrong: Vec<usize> = (0..truth.len()).filter(|&i| truth[i] != predicted[i]).take(max).collect();
    let (zoom, per_row, pad) = (3u32, 8u32, 6u32);
    let name = |c: i64| {
        let name = usize::try_from(c).ok().and_then(|c| class_names.get(c)).cloned().unwrap_or_else(|| c.to_string());
        text::fit(&name, 14)
    };
    let captions: Vec<(String, String)> =
        wrong.iter().map(|&i| (format!("T:{}", name(truth[i])), format!("P:{}", name(predicted[i])))).collect();
    let caption_w = captions.iter().map(|(t, p)| text::width(t, 1).max(text::width(p, 1))).max().unwrap_or(0);
    let tile_w = (cols as u32 * zoom).max(caption_w);
    let tile_h = rows as u32 * zoom + 4 + 2 * 10;
    let shown = wrong.len().max(1) as u32;
    let grid_cols = per_row.min(shown);
    let grid_rows = shown.div_ceil(per_row);
    let mut img =
        RgbImage::from_pixel(pad + grid_cols * (tile_w + pad), pad + grid_rows * (tile_h + pad), Rgb([255, 255, 255]));
    for (k, &i) in wrong.iter().enumerate() {
        let (gx, gy) = (pad + (k as u32 % per_row) * (tile_w + pad), pad + (k as u32 / per_row) * (tile_h + pad));
        let offset = (tile_w - cols as u32 * zoom) / 2;
        for r in 0..rows {
            for c in 0..cols {
                let v = images.get(i * rows * cols + r * cols + c).copied().unwrap_or(0.0);
                let g = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                for dy in 0..zoom {
                    for dx in 0..zoom {
                        img.put_pixel(gx + offset + c as u32 * zoom + dx, gy + r as u32 * zoom + dy, Rgb([g, g, g]));
                    }
                }
            }
        }
        let (t, p) = &captions[k];
        let y = gy + rows as u32 * zoom + 4;
        text::draw(&mut img, t, gx, y, 1, Rgb([0, 130, 0]));
        text::draw(&mut img, p, gx, y + 10, 1, Rgb([200, 0, 0]));
    }
    atomic_file::write_via(
        path,
        |target| img.save(target).map_err(|e| plot_err(path)(e.to_string())),
        write_err(path),
    )?;
    Ok(wrong.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_labels_of_whole_numbers_have_no_decimal_point() {
        let labels: Vec<String> = [0.0, 1.0, 250.0, 0.5, 0.25, 0.125].iter().map(tick_label).collect();
        assert_eq!(labels, ["0", "1", "250", "0.5", "0.25", "0.125"]);
    }

    #[test]
    fn pictures_are_written() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = ["zero", "one", "two"].iter().map(|s| s.to_string()).collect();
        let report = EvalReport::from_predictions(&[0, 1, 2, 2], &[0, 2, 2, 1], &names, 0.5);
        let confusion = dir.path().join("confusion.svg");
        confusion_svg(&confusion, &report).unwrap();
        let svg = std::fs::read_to_string(&confusion).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("zero") && svg.contains("rows true class"), "{svg}");
        let curves = dir.path().join("curves.svg");
        let pts = |k: f64| {
            (1..=5)
                .map(|s| CurvePoint { step: s as f64, loss: k / s as f64, accuracy: 0.2 * s as f64 })
                .collect::<Vec<_>>()
        };
        curves_svg(&curves, &pts(2.0), &pts(1.0)).unwrap();
        let svg = std::fs::read_to_string(&curves).unwrap();
        assert!(svg.contains("validation") && svg.contains("polyline"), "{svg}");
        let mut counter = crate::DecisionCounter::new(3, 3);
        counter.add(&[0, 1, 1, 2, 2, 2, 1, 0, 0], &[1, 2, 0]);
        let decision_path = dir.path().join("decision.svg");
        decision_svg(&decision_path, &counter.finish(&names), "rows").unwrap();
        let svg = std::fs::read_to_string(&decision_path).unwrap();
        assert!(svg.contains("rows read") && svg.contains("mean decision: 1.7 rows"), "{svg}");
        assert!(!svg.contains(">1.0<") && !svg.contains(">2.0<"), "whole steps without .0: {svg}");
        let errors = dir.path().join("errors.png");
        let images = vec![0.5f32; 4 * 2 * 3];
        let drawn = errors_png(&errors, &images, (2, 3), (&[0, 1, 2, 2], &[0, 2, 2, 1]), &names, 10).unwrap();
        assert_eq!(drawn, 2);
        let png = image::open(&errors).unwrap().to_rgb8();
        // Two tiles of max(3*3, "T:one" = 5 chars * 8 px) wide.
        assert_eq!(png.width(), 6 + 2 * (40 + 6));
        let red = png.pixels().filter(|p| p.0 == [200, 0, 0]).count();
        let green = png.pixels().filter(|p| p.0 == [0, 130, 0]).count();
        assert!(red > 0 && green > 0, "captions drawn");
    }
}
