//! `report.html`: everything about one run (or one evaluation) on one page.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use experiment::run_folder::RunFolder;
use experiment::ExperimentError;
use serde_json::Value;

use super::{card, duration, escape, inline_svg, now_utc, page, png_img};

/// File name of the page in a run folder.
pub const REPORT_HTML: &str = experiment::run_folder::PAGE;

/// What a run page shows; every part but the report is optional.
#[derive(Debug, Clone, Default)]
pub struct RunPage {
    /// The run's name (the page title).
    pub title: String,
    /// What the page is about, such as "training run runs/seed".
    pub subtitle: String,
    /// `report.json`.
    pub report: Value,
    /// The resolved config (`config.json`).
    pub config: Option<Value>,
    /// `curves.svg`.
    pub curves_svg: Option<String>,
    /// `confusion.svg`.
    pub confusion_svg: Option<String>,
    /// `decision.svg`.
    pub decision_svg: Option<String>,
    /// `errors.png`.
    pub errors_png: Option<Vec<u8>>,
    /// Explain pictures of a few test images: caption and PNG bytes.
    pub explains: Vec<(String, Vec<u8>)>,
    /// The test inputs are series (channels over time), not pictures: the
    /// text says "series" and describes the channel plots.
    pub series: bool,
}

fn num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn meta_line(p: &RunPage) -> String {
    let r = &p.report;
    let mut parts = vec![escape(&p.subtitle), format!("written {}", now_utc())];
    if let Some(device) = r["device"].as_str() {
        let threads = r["threads"].as_u64().map(|t| format!(", {t} threads")).unwrap_or_default();
        parts.push(format!("device {}{threads}", escape(device)));
    }
    if let Some(seconds) = num(&r["train"]["seconds"]) {
        parts.push(format!("training took {}", duration(seconds)));
    }
    format!("<p class=\"meta\">{}</p>", parts.join(" · "))
}

fn headline(r: &Value) -> String {
    let mut cards = Vec::new();
    if let Some(a) = num(&r["accuracy"]) {
        let of = format!("test accuracy ({} of {})", r["correct"], r["samples"]);
        cards.push(card(&format!("{a:.4}"), &of));
    }
    if let Some(l) = num(&r["loss"]) {
        cards.push(card(&format!("{l:.4}"), "mean test loss"));
    }
    if let Some(f) = num(&r["macro_f1"]) {
        cards.push(card(&format!("{f:.4}"), "macro F1"));
    }
    let train = &r["train"];
    if let Some(b) = num(&train["best_validation"]["accuracy"]).or_else(|| num(&train["best_validation"])) {
        cards.push(card(&format!("{b:.4}"), "best validation accuracy"));
    }
    if let Some(steps) = train["steps"].as_i64() {
        cards.push(card(&steps.to_string(), "optimisation steps"));
    }
    if let Some(s) = num(&train["samples_per_second"]) {
        cards.push(card(&format!("{s:.0}"), "training samples/s"));
    }
    let d = &r["decision"];
    if let (Some(mean), Some(steps)) = (num(&d["mean"]), d["steps"].as_u64()) {
        cards.push(card(&format!("{mean:.1} / {steps}"), "mean decision step"));
    }
    format!("<div class=\"cards\">{}</div>", cards.concat())
}

fn class_table(r: &Value) -> String {
    let Some(classes) = r["classes"].as_array() else { return String::new() };
    let decisions = r["decision"]["classes"].as_array();
    let mut out = String::from(
        "<table><thead><tr><th class=\"l\">class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th>",
    );
    if decisions.is_some() {
        out.push_str("<th>mean decision step</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for (i, c) in classes.iter().enumerate() {
        let f = |k: &str| num(&c[k]).map_or("".into(), |v| format!("{v:.4}"));
        let _ = write!(
            out,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            escape(c["class"].as_str().unwrap_or("")),
            f("precision"),
            f("recall"),
            f("f1"),
            c["support"]
        );
        if let Some(d) = decisions {
            let _ = write!(out, "<td>{}</td>", num(&d[i]["mean"]).map_or("".into(), |v| format!("{v:.1}")));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    if let Some(pairs) = r["most_confused"].as_array().filter(|p| !p.is_empty()) {
        let list: Vec<String> = pairs
            .iter()
            .map(|p| {
                let s = |k: &str| escape(p[k].as_str().unwrap_or(""));
                format!("{} as {} ({})", s("truth"), s("predicted"), p["count"])
            })
            .collect();
        let _ = write!(out, "<p>Most confused (true class as predicted): {}.</p>", list.join(", "));
    }
    out
}

fn figure(inner: &str, caption: &str) -> String {
    format!("<figure>{inner}<figcaption>{}</figcaption></figure>", escape(caption))
}

/// The whole page.
pub fn run_page(p: &RunPage) -> String {
    let r = &p.report;
    let mut body = format!("<h1>{}</h1>\n{}\n{}\n", escape(&p.title), meta_line(p), headline(r));
    if let Some(svg) = &p.curves_svg {
        let _ = write!(body, "<h2>Training curves</h2>{}", figure(&inline_svg(svg, "training curves"), "Loss and accuracy of the training minibatches (blue) and of the validation split (red, when there is one) against the optimisation step."));
    }
    let _ = write!(body, "<h2>Per class</h2>{}", class_table(r));
    if let Some(svg) = &p.confusion_svg {
        let _ = write!(
            body,
            "<h2>Confusion matrix</h2>{}",
            figure(
                &inline_svg(svg, "confusion matrix"),
                "Rows: true class; columns: predicted class; shading: fraction of the row."
            )
        );
    }
    if let Some(png) = &p.errors_png {
        let (what, how) = if p.series {
            ("series", " Each plot: every channel over the series' real steps.")
        } else {
            ("images", "")
        };
        let _ = write!(
            body,
            "<h2>Misclassified test {what}</h2>{}",
            figure(
                &png_img(png, &format!("misclassified test {what}")),
                &format!("The first misclassified test {what}: T is the true class, P the prediction.{how}")
            )
        );
    }
    let d = &r["decision"];
    if p.decision_svg.is_some() || !p.explains.is_empty() {
        body.push_str("<h2>When the model makes up its mind</h2>");
    }
    if let (Some(mean), Some(median), Some(steps)) = (num(&d["mean"]), num(&d["median"]), d["steps"].as_u64()) {
        let _ = write!(
            body,
            "<p>After each step the model's prediction from what it has read so far was recorded. On average it \
             settles on its final answer at step {mean:.1} of {steps} (median {median}); the curve shows the test \
             accuracy it would have if it stopped reading after k steps.</p>"
        );
    }
    if let Some(svg) = &p.decision_svg {
        body.push_str(&figure(
            &inline_svg(svg, "accuracy when stopping early"),
            "Test accuracy when stopping after k steps; the red line is the mean decision step.",
        ));
    }
    if !p.explains.is_empty() {
        body.push_str("<div class=\"grid\">");
        for (caption, png) in &p.explains {
            body.push_str(&figure(&png_img(png, caption), caption));
        }
        let input = if p.series {
            "one lane per channel (numbered; time runs downwards over the series' real steps, greyed after the deciding step)"
        } else {
            "the image (pixels read after the deciding step dimmed)"
        };
        let _ = write!(
            body,
            "</div><p>Each picture: {input} beside the class probabilities after every step (white 0, dark blue 1); the \
             final class is outlined, the red line marks the deciding step.</p>"
        );
    }
    if let Some(config) = &p.config {
        let text = serde_json::to_string_pretty(config).unwrap_or_default();
        let _ = write!(body, "<h2>Resolved config</h2><pre>{}</pre>", escape(&text));
    }
    page(&p.title, &body)
}

/// Reads the run's files from `dir` (`report.json`, `config.json`,
/// `curves.svg`, `confusion.svg`, `decision.svg`, `errors.png`; all but the
/// report optional), renders the page with `explains` (of series when
/// `series`) and writes
/// `dir/report.html` (through a temporary file and a rename). Returns its path.
pub fn write_run_page(
    dir: &Path,
    title: &str,
    subtitle: &str,
    config: Option<Value>,
    explains: Vec<(String, Vec<u8>)>,
    series: bool,
) -> std::io::Result<PathBuf> {
    let run = RunFolder::new(dir);
    let invalid = |e: ExperimentError| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string());
    let report = run.read_report_json().map_err(invalid)?.ok_or_else(|| {
        let missing = format!("{}: no such file", run.report().display());
        std::io::Error::new(std::io::ErrorKind::NotFound, missing)
    })?;
    let text = |path: PathBuf| std::fs::read_to_string(path).ok();
    let config = config.or_else(|| run.read_config().ok().and_then(|e| serde_json::to_value(e).ok()));
    let p = RunPage {
        title: title.to_owned(),
        subtitle: subtitle.to_owned(),
        report,
        config,
        curves_svg: text(run.curves()),
        confusion_svg: text(run.confusion()),
        decision_svg: text(run.decision()),
        errors_png: std::fs::read(run.errors()).ok(),
        explains,
        series,
    };
    let path = run.page();
    atomic_file::write(&path, run_page(&p))?;
    Ok(path)
}
