//! What `compare` shows and writes: the text table, CSV, `compare.svg` and
//! the summary files of a sweep folder.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use super::{group_label, short, CompareError, Comparison, RunRow, Stats};

/// Colours of the groups in `compare.svg` (matplotlib's tab10).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn opt<T: std::fmt::Display>(value: Option<T>, f: impl Fn(T) -> String) -> String {
    value.map_or_else(|| "-".into(), f)
}

/// The short name of a run in tables: the folder's last part.
fn run_label(run: &RunRow) -> String {
    Path::new(&run.dir).file_name().map_or_else(|| run.dir.clone(), |n| n.to_string_lossy().into_owned())
}

/// The widest a table column is padded to.
const MAX_COLUMN_WIDTH: usize = 1000;

fn render(header: &[String], rows: &[Vec<String>], right_from: usize) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).chain([header[c].chars().count()]).max().unwrap_or(0))
        // A format width must stay small (a huge one panics); longer cells are printed whole, unpadded.
        .map(|w| w.min(MAX_COLUMN_WIDTH))
        .collect();
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows.iter().map(Vec::as_slice)) {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                if c >= right_from {
                    format!("{cell:>w$}", w = widths[c])
                } else {
                    format!("{cell:<w$}", w = widths[c])
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}

/// The runs table (differing keys, then the numbers) and the groups table.
pub fn table(comparison: &Comparison) -> String {
    let mut header: Vec<String> = vec!["run".into()];
    header.extend(comparison.keys.iter().cloned());
    let numbers = ["test acc", "best val", "final loss", "steps", "seconds", "samples/s"];
    let right_from = header.len();
    header.extend(numbers.iter().map(|s| s.to_string()));
    let rows: Vec<Vec<String>> = comparison
        .runs
        .iter()
        .map(|run| {
            let mut row = vec![run_label(run)];
            row.extend(comparison.keys.iter().map(|k| run.differs.get(k).map(short).unwrap_or_default()));
            row.extend([
                opt(run.test_accuracy, |a| format!("{a:.4}")),
                opt(run.best_validation_accuracy, |a| format!("{a:.4}")),
                opt(run.final_train_loss, |l| format!("{l:.4}")),
                opt(run.steps, |s| s.to_string()),
                opt(run.seconds, |s| format!("{s:.1}")),
                opt(run.samples_per_second, |s| format!("{s:.0}")),
            ]);
            row
        })
        .collect();
    let mut out = render(&header, &rows, right_from);
    if comparison.groups.len() < comparison.runs.len() {
        let header: Vec<String> =
            ["group", "n", "mean acc", "std", "min", "max"].iter().map(|s| s.to_string()).collect();
        let rows: Vec<Vec<String>> = comparison
            .groups
            .iter()
            .map(|g| {
                let acc = g.test_accuracy;
                vec![
                    group_label(g),
                    g.n.to_string(),
                    opt(acc.map(|s| s.mean), |v| format!("{v:.4}")),
                    opt(acc.and_then(|s| s.std), |v| format!("{v:.4}")),
                    opt(acc.map(|s| s.min), |v| format!("{v:.4}")),
                    opt(acc.map(|s| s.max), |v| format!("{v:.4}")),
                ]
            })
            .collect();
        out.push('\n');
        out.push_str(&render(&header, &rows, 1));
    }
    out.push_str(&marginal_tables(comparison));
    match (&comparison.best, &comparison.best_missing) {
        (Some(b), _) => out.push_str(&format!(
            "\nbest on validation: {} (validation accuracy {:.4}, test accuracy {})\n",
            b.dir,
            b.validation_accuracy,
            b.test_accuracy.map_or_else(|| "-".to_owned(), |t| format!("{t:.4}"))
        )),
        (None, Some(why)) => out.push_str(&format!("\nbest: none chosen: {why}\n")),
        (None, None) => {}
    }
    out
}

/// `mean ± sem` (or the mean alone for one value), `-` when none.
fn mean_sem(stats: Option<Stats>) -> String {
    match stats {
        Some(Stats { mean, sem: Some(sem), .. }) => format!("{mean:.4} ± {sem:.4}"),
        Some(s) => format!("{:.4}", s.mean),
        None => "-".into(),
    }
}

/// One table per varied key: its values, best first, with the mean best
/// validation and test accuracy (± standard error) of the runs that have it.
fn marginal_tables(comparison: &Comparison) -> String {
    let mut out = String::new();
    for marginal in &comparison.marginals {
        let header: Vec<String> =
            [marginal.key.as_str(), "n", "best val (mean ± sem)", "test acc (mean ± sem)"].map(String::from).to_vec();
        let rows: Vec<Vec<String>> = marginal
            .levels
            .iter()
            .map(|l| {
                vec![short(&l.value), l.n.to_string(), mean_sem(l.best_validation_accuracy), mean_sem(l.test_accuracy)]
            })
            .collect();
        let _ = write!(out, "\nby {}:\n{}", marginal.key, render(&header, &rows, 1));
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// One CSV line per run: `dir`, the differing keys, then the numbers (empty when unknown).
pub fn csv(comparison: &Comparison) -> String {
    let mut header = vec!["dir".to_owned()];
    header.extend(comparison.keys.iter().cloned());
    header.extend(
        [
            "group",
            "test_accuracy",
            "best_validation_accuracy",
            "final_train_loss",
            "steps",
            "seconds",
            "samples_per_second",
        ]
        .map(String::from),
    );
    let mut out = header.iter().map(|h| csv_field(h)).collect::<Vec<_>>().join(",");
    out.push('\n');
    let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for run in &comparison.runs {
        let mut row = vec![run.dir.clone()];
        row.extend(comparison.keys.iter().map(|k| run.differs.get(k).map(short).unwrap_or_default()));
        row.extend([
            run.group.to_string(),
            num(run.test_accuracy),
            num(run.best_validation_accuracy),
            num(run.final_train_loss),
            run.steps.map(|s| s.to_string()).unwrap_or_default(),
            num(run.seconds),
            num(run.samples_per_second),
        ]);
        out.push_str(&row.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

/// `compare.svg`: validation accuracy and training loss against the step,
/// every run overlaid, one colour per group (legend: the group's values).
pub fn write_svg(comparison: &Comparison, path: &Path) -> Result<(), CompareError> {
    let io = |e: std::io::Error| CompareError::Plot { path: path.to_owned(), message: e.to_string() };
    atomic_file::write_via(path, |target| draw_svg(comparison, target, path), io)
}

/// Draws `compare.svg` into the file `target`; errors name `path`.
fn draw_svg(comparison: &Comparison, target: &Path, path: &Path) -> Result<(), CompareError> {
    let err = |e: String| CompareError::Plot { path: path.to_owned(), message: e };
    let root = SVGBackend::new(target, (1100, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let (left, right) = root.split_horizontally(550);
    let runs = &comparison.runs;
    let max_step = runs
        .iter()
        .flat_map(|r| r.curves.train_loss.iter().chain(&r.curves.validation_accuracy))
        .map(|p| p.0)
        .fold(1.0, f64::max);
    let max_loss =
        runs.iter().flat_map(|r| &r.curves.train_loss).map(|p| p.1).filter(|l| l.is_finite()).fold(0.1, f64::max);
    type Pick = fn(&RunRow) -> &Vec<(f64, f64)>;
    let panels: [(&DrawingArea<SVGBackend, _>, &str, f64, Pick); 2] = [
        (&left, "validation accuracy", 1.0, |r| &r.curves.validation_accuracy),
        (&right, "training loss", max_loss * 1.05, |r| &r.curves.train_loss),
    ];
    for (area, title, y_max, pick) in panels {
        let mut chart = eval::plots::step_chart(area, title, max_step, y_max).map_err(err)?;
        if runs.iter().all(|r| pick(r).is_empty()) {
            let note = if title == "validation accuracy" { "no validation split in these runs" } else { "no records" };
            let style = ("sans-serif", 16).into_font().color(&BLACK.mix(0.6));
            chart
                .plotting_area()
                .draw(&Text::new(note, (max_step * 0.05, y_max * 0.5), style))
                .map_err(|e| err(e.to_string()))?;
            continue;
        }
        for (g, group) in comparison.groups.iter().enumerate() {
            let colour = PALETTE[g % PALETTE.len()];
            let mut labelled = false;
            for &i in &group.runs {
                let points = pick(&runs[i]);
                if points.is_empty() {
                    continue;
                }
                let style = if points.len() == 1 { colour.filled() } else { colour.stroke_width(2) };
                let series = chart
                    .draw_series(LineSeries::new(points.iter().copied(), style).point_size(if points.len() == 1 {
                        3
                    } else {
                        0
                    }))
                    .map_err(|e| err(e.to_string()))?;
                if !labelled {
                    labelled = true;
                    series
                        .label(group_label(group))
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
                }
            }
        }
        eval::plots::draw_legend(&mut chart, title == "training loss").map_err(err)?;
    }
    root.present().map_err(|e| err(e.to_string()))
}

/// Writes `summary.json`, `summary.csv`, `compare.svg` and `compare.html`
/// (the table, the curves and the groups on one self-contained page) into `dir`.
pub fn write_outputs(comparison: &Comparison, dir: &Path) -> Result<(), CompareError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| CompareError::Read { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let json = dir.join("summary.json");
    let mut text = serde_json::to_string_pretty(&comparison.summary_json()).unwrap_or_default();
    text.push('\n');
    atomic_file::write(&json, text).map_err(io(&json))?;
    let csv_path = dir.join("summary.csv");
    atomic_file::write(&csv_path, csv(comparison)).map_err(io(&csv_path))?;
    write_svg(comparison, &dir.join("compare.svg"))?;
    let title = format!("comparison of {} runs", comparison.runs.len());
    crate::html::write_compare_page(comparison, dir, &title).map_err(io(dir))?;
    Ok(())
}
