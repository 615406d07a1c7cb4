//! Self-contained HTML pages: `report.html` of a run folder ([`write_run_page`])
//! and `compare.html` of several runs ([`compare_page`]). A page makes no
//! request to any other file or host: SVG pictures are inline, PNG pictures
//! are data URIs, the style sheet is in the page and there is no script.

mod compare;
mod run;

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;

pub use compare::{compare_page, write_compare_page, COMPARE_HTML};
pub use run::{run_page, write_run_page, RunPage, REPORT_HTML};

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A `data:` URI holding `bytes`.
pub fn data_uri(mime: &str, bytes: &[u8]) -> String {
    format!("data:{mime};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// An `<img>` of PNG bytes, as a data URI.
pub fn png_img(bytes: &[u8], alt: &str) -> String {
    format!("<img src=\"{}\" alt=\"{}\">", data_uri("image/png", bytes), escape(alt))
}

/// An SVG document made fit for inline use: the XML declaration (if any)
/// dropped, `role="img"` and a title for screen readers added.
pub fn inline_svg(svg: &str, title: &str) -> String {
    let start = svg.find("<svg").unwrap_or(0);
    let body = &svg[start..];
    let close = body.find('>').unwrap_or(0);
    format!("{} role=\"img\" aria-label=\"{}\">{}", &body[..close], escape(title), &body[close + 1..])
}

/// The current UTC time as `YYYY-MM-DD HH:MM UTC`.
pub fn now_utc() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    utc_string(secs)
}

/// `secs` since the Unix epoch as `YYYY-MM-DD HH:MM UTC` (proleptic Gregorian).
pub fn utc_string(secs: u64) -> String {
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rem / 3600, rem % 3600 / 60)
}

/// A number of seconds as `1 h 02 min`, `3 min 05 s` or `12.3 s`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0);
    if s >= 3600.0 {
        format!("{} h {:02} min", (s / 3600.0) as u64, (s % 3600.0 / 60.0) as u64)
    } else if s >= 60.0 {
        format!("{} min {:02} s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!("{s:.1} s")
    }
}

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1d1d1f;
  background: #fff; margin: 0 auto; padding: 1.5rem 2rem 3rem; max-width: 1120px; line-height: 1.45; }
h1 { font-size: 1.7rem; margin: 0 0 .2rem; }
h2 { font-size: 1.25rem; margin: 2.2rem 0 .6rem; padding-bottom: .2rem; border-bottom: 1px solid #ddd; }
p.meta { color: #555; margin: 0 0 1rem; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .55rem .9rem; min-width: 8.5rem; }
.card .v { font-size: 1.45rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .k { color: #555; font-size: .85rem; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; margin: .4rem 0; }
th, td { border-bottom: 1px solid #e4e4e4; padding: .25rem .7rem; text-align: right; }
th { background: #f6f6f6; font-weight: 600; }
td.l, th.l { text-align: left; }
figure { margin: .5rem 0 1rem; }
figcaption { color: #555; font-size: .9rem; margin-top: .3rem; }
img, svg { max-width: 100%; height: auto; }
img.pixel { image-rendering: pixelated; }
.grid { display: flex; flex-wrap: wrap; gap: 1rem; }
.grid figure { flex: 0 1 520px; }
.grid img { width: 100%; }
pre { background: #f6f6f6; border: 1px solid #e4e4e4; border-radius: 4px; padding: .7rem; overflow-x: auto;
  font-size: .82rem; }
.good { color: #1a7f37; } .bad { color: #c62828; }
@media print { body { max-width: none; padding: 0; } h2 { break-after: avoid; } figure, table { break-inside: avoid; }
  pre { white-space: pre-wrap; } }
"#;

/// A complete page: `title` in the head and the tab, `body` as given.
pub fn page(title: &str, body: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n",
        escape(title)
    );
    out
}

/// One headline number.
pub fn card(value: &str, label: &str) -> String {
    format!(
        "<div class=\"card\"><div class=\"v\">{}</div><div class=\"k\">{}</div></div>",
        escape(value),
        escape(label)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_dates_are_civil() {
        assert_eq!(escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(utc_string(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_string(951_782_400 + 3600 + 120), "2000-02-29 01:02 UTC");
        assert_eq!(utc_string(1_764_370_800), "2025-11-28 23:00 UTC");
        assert_eq!(duration(33.25), "33.2 s");
        assert_eq!(duration(185.0), "3 min 05 s");
        assert_eq!(duration(3720.0), "1 h 02 min");
        assert!(data_uri("image/png", b"ab").ends_with("base64,YWI="));
        let svg = inline_svg("<?xml version=\"1.0\"?>\n<svg width=\"2\" viewBox=\"0 0 2 2\"><rect/></svg>", "a & b");
        assert_eq!(svg, "<svg width=\"2\" viewBox=\"0 0 2 2\" role=\"img\" aria-label=\"a &amp; b\"><rect/></svg>");
    }
}
