//! Checks a self-contained HTML page in a real headless browser
//! (`chromium-headless-shell`, or the program named by `$CHROMIUM`): it
//! loads with no console error and no request for any resource, every image
//! decodes to a non-zero width, and a screenshot is not blank. The tests that
//! use it are `#[ignore = "needs chromium-headless-shell"]` and fail when the
//! browser is missing (`scripts/setup-test-tools.sh` installs it).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The browser (`$CHROMIUM`, else `chromium-headless-shell` on `PATH`); the
/// test fails when it is missing.
pub fn browser() -> PathBuf {
    let name = std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium-headless-shell".into());
    crate::tools::require_program(&name)
}

/// What the injected script reports after the page's load event.
const PROBE: &str = r#"<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || (e.target && (e.target.src || e.target.tagName)))), true);
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  document.body.setAttribute('data-check', JSON.stringify({
    images: imgs.length,
    broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt),
    svgs: document.querySelectorAll('svg').length,
    resources: performance.getEntriesByType('resource').map(r => r.name),
    errors: window.__errors,
  }));
});
</script>"#;

fn run(browser: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars"])
        .args(["--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0"])
        .args(args)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .expect("run the browser");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(out.status.success(), "browser failed: {stderr}");
    (stdout, stderr)
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'").replace("&amp;", "&")
}

/// The static part: no reference to another file or host anywhere in the page.
pub fn assert_self_contained(html: &str) {
    for attr in ["src=\"", "href=\"", "url("] {
        for (at, _) in html.match_indices(attr) {
            let rest = &html[at + attr.len()..];
            assert!(
                rest.starts_with("data:") || rest.starts_with('#'),
                "external reference {attr}{}",
                &rest[..rest.len().min(60)]
            );
        }
    }
    assert!(!html.contains("<link") && !html.contains("@import"), "no linked style sheets");
}

/// Loads `page` in the browser and checks it; returns the number of images
/// and inline SVGs it found.
pub fn check_page(page: &Path) -> (usize, usize) {
    let html = std::fs::read_to_string(page).unwrap();
    assert_self_contained(&html);
    let browser = browser();
    let dir = tempfile::tempdir().unwrap();
    let probed = dir.path().join("probed.html");
    std::fs::write(&probed, html.replacen("<head>", &format!("<head>\n{PROBE}"), 1)).unwrap();
    let url = format!("file://{}", probed.display());
    let (dom, log) = run(&browser, &["--virtual-time-budget=10000", "--dump-dom", &url]);
    // The page has no script and the probe logs nothing: any console line is a problem.
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE") || l.contains("Uncaught")).collect();
    assert!(console.is_empty(), "{}: console errors: {console:?}", page.display());
    let start = dom.find("data-check=\"").unwrap_or_else(|| panic!("no probe result in the DOM: {dom}")) + 12;
    let end = start + dom[start..].find('"').unwrap();
    let check: serde_json::Value = serde_json::from_str(&unescape(&dom[start..end])).unwrap();
    assert_eq!(check["errors"], serde_json::json!([]), "{}: page errors", page.display());
    assert_eq!(check["broken"], serde_json::json!([]), "{}: images of zero width", page.display());
    assert_eq!(check["resources"], serde_json::json!([]), "{}: the page requested resources", page.display());

    let shot = dir.path().join("shot.png");
    let shot_arg = format!("--screenshot={}", shot.display());
    run(&browser, &[&shot_arg, "--window-size=1280,1600", &format!("file://{}", page.display())]);
    let img = image::open(&shot).unwrap().to_rgb8();
    let ink = img.pixels().filter(|p| p.0.iter().any(|&c| c < 200)).count();
    let colours: std::collections::HashSet<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    let share = ink as f64 / (img.width() * img.height()) as f64;
    assert!(
        share > 0.01 && colours.len() > 20,
        "{}: the screenshot looks blank ({share:.4} ink, {} colours)",
        page.display(),
        colours.len()
    );
    (check["images"].as_u64().unwrap() as usize, check["svgs"].as_u64().unwrap() as usize)
}
