//! `compare.html`: several runs or a sweep on one page — the table, the
//! overlaid curves and the groups of runs that differ only in their seeds.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use super::{card, escape, inline_svg, now_utc, page};
use crate::compare::{group_label, short, Comparison, Stats};

/// File name of the page in a comparison's output folder.
pub const COMPARE_HTML: &str = "compare.html";

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
}

fn stats(s: &Option<Stats>) -> String {
    match s {
        None => "–".into(),
        Some(s) => match s.std {
            Some(std) => format!("{:.4} ± {std:.4} ({:.4}–{:.4})", s.mean, s.min, s.max),
            None => format!("{:.4}", s.mean),
        },
    }
}

fn runs_table(c: &Comparison) -> String {
    let best = c.runs.iter().filter_map(|r| r.test_accuracy).fold(f64::NEG_INFINITY, f64::max);
    let mut out = String::from("<table><thead><tr><th class=\"l\">run</th>");
    for key in &c.keys {
        let _ = write!(out, "<th class=\"l\">{}</th>", escape(key));
    }
    out.push_str(
        "<th>test accuracy</th><th>best validation</th><th>final train loss</th><th>steps</th>\
         <th>seconds</th><th>samples/s</th></tr></thead><tbody>",
    );
    for r in &c.runs {
        let name = r.name.clone().unwrap_or_else(|| r.dir.clone());
        let mark = if r.test_accuracy == Some(best) { " class=\"good\"" } else { "" };
        let status = if r.finished { "" } else { " (unfinished)" };
        let _ = write!(out, "<tr><td class=\"l\" title=\"{}\">{}{status}</td>", escape(&r.dir), escape(&name));
        for key in &c.keys {
            let v = r.differs.get(key).map(short).unwrap_or_default();
            let _ = write!(out, "<td class=\"l\">{}</td>", escape(&v));
        }
        let _ = write!(
            out,
            "<td{mark}>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            opt(r.test_accuracy, 4),
            opt(r.best_validation_accuracy, 4),
            opt(r.final_train_loss, 4),
            r.steps.map_or("–".into(), |s| s.to_string()),
            opt(r.seconds, 1),
            opt(r.samples_per_second, 0),
        );
    }
    out.push_str("</tbody></table>");
    out
}

fn groups_table(c: &Comparison) -> String {
    let mut out = String::from(
        "<table><thead><tr><th class=\"l\">group</th><th>runs</th><th class=\"l\">test accuracy \
         (mean ± std, min–max)</th><th class=\"l\">best validation</th><th class=\"l\">final train loss</th>\
         </tr></thead><tbody>",
    );
    for g in &c.groups {
        let _ = write!(
            out,
            "<tr><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td>\
             <td class=\"l\">{}</td></tr>",
            escape(&group_label(g)),
            g.n,
            stats(&g.test_accuracy),
            stats(&g.best_validation_accuracy),
            stats(&g.final_train_loss)
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// The page for `comparison`, with the overlaid curves `svg` (`compare.svg`) when given.
pub fn compare_page(comparison: &Comparison, svg: Option<&str>, title: &str) -> String {
    let c = comparison;
    let finished = c.runs.iter().filter(|r| r.finished).count();
    // The headline is chosen on validation, never on test; test is shown beside it.
    let best = match (&c.best, &c.best_missing) {
        (Some(b), _) => {
            let name = c.runs.iter().find(|r| r.dir == b.dir).and_then(|r| r.name.clone()).unwrap_or(b.dir.clone());
            format!(
                "{}{}",
                card(&format!("{:.4}", b.validation_accuracy), &format!("best validation accuracy ({name})")),
                card(&opt(b.test_accuracy, 4), "its test accuracy")
            )
        }
        (None, Some(why)) => card("-", why),
        (None, None) => String::new(),
    };
    let mut body = format!(
        "<h1>{}</h1><p class=\"meta\">{} runs · written {}</p><div class=\"cards\">{}{}{}</div>",
        escape(title),
        c.runs.len(),
        now_utc(),
        card(&c.runs.len().to_string(), "runs"),
        card(&finished.to_string(), "finished"),
        best
    );
    if !c.keys.is_empty() {
        let keys: Vec<String> = c.keys.iter().map(|k| format!("<code>{}</code>", escape(k))).collect();
        let _ = write!(body, "<p>The runs differ in {}.</p>", keys.join(", "));
    }
    let _ = write!(body, "<h2>Runs</h2>{}", runs_table(c));
    if let Some(svg) = svg {
        let _ = write!(
            body,
            "<h2>Curves</h2><figure>{}<figcaption>Training loss and validation accuracy of every run, overlaid.\
             </figcaption></figure>",
            inline_svg(svg, "overlaid curves")
        );
    }
    let _ =
        write!(body, "<h2>Groups</h2><p>Runs that differ only in their seeds form one group.</p>{}", groups_table(c));
    page(title, &body)
}

/// Writes `dir/compare.html` for `comparison`, inlining `dir/compare.svg`
/// when it is there; returns the page's path.
pub fn write_compare_page(comparison: &Comparison, dir: &Path, title: &str) -> std::io::Result<PathBuf> {
    let svg = std::fs::read_to_string(dir.join("compare.svg")).ok();
    let path = dir.join(COMPARE_HTML);
    atomic_file::write(&path, compare_page(comparison, svg.as_deref(), title))?;
    Ok(path)
}
