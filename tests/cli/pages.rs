//! The pages and pictures a person looks at: `report.html` of `train` and of
//! `eval --out` in a real headless browser, `explain` on real MNIST test
//! digits (`data/mnist-sample`), and `compare.html`.

use crate::browser;
use crate::common;

use std::path::{Path, PathBuf};

use common::{run, text, write_dataset};

/// Trains a small model through the binary on `data` with a validation
/// split; returns the run folder.
fn train(tmp: &Path, data: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let config = tmp.join(format!("{name}.json"));
    let json = format!(
        r#"{{"name": "{name}", "device": "cpu", "threads": 1, "data": {{"dir": {:?}, "validation": 40}},
            "model": {{"hidden": 24}},
            "train": {{"learning_rate": 0.01, "batch_size": 20, "training_iters": 2000, "display_step": 10,
                       "validate_every": 25, "checkpoint_every": 0}}}}"#,
        data.display().to_string()
    );
    std::fs::write(&config, json).unwrap();
    let run_dir = tmp.join(name);
    let mut args = vec!["train", "--config", config.to_str().unwrap(), "--out", run_dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = run(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    run_dir
}

fn tiny_data(tmp: &Path) -> PathBuf {
    write_dataset(tmp.join("data"), 300, 100, false)
}

#[test]
#[ignore = "needs chromium-headless-shell"]
fn train_and_eval_write_report_pages_that_render() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tiny_data(tmp.path());
    let run_dir = train(tmp.path(), &data, "tiny", &[]);
    let page = run_dir.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("report.json")).unwrap()).unwrap();
    // The headline number, the config, every picture and the explain pictures are on the page.
    let accuracy = format!("{:.4}", report["accuracy"].as_f64().unwrap());
    assert!(html.contains(&accuracy), "test accuracy {accuracy} on the page");
    assert!(
        html.contains("<h1>tiny</h1>") && html.contains("Resolved config") && html.contains("&quot;hidden&quot;: 24")
    );
    for section in ["Training curves", "Confusion matrix", "Per class", "When the model makes up its mind"] {
        assert!(html.contains(section), "section {section}");
    }
    let decision = &report["decision"];
    assert_eq!(decision["steps"], 6);
    assert_eq!(decision["early_exit"].as_array().unwrap().len(), 6);
    assert!((decision["early_exit"][5].as_f64().unwrap() - report["accuracy"].as_f64().unwrap()).abs() < 1e-12);
    assert!(run_dir.join("decision.svg").is_file());
    let (images, svgs) = browser::check_page(&page);
    // curves, confusion, decision inline; errors grid (if any error) and explain pictures as PNG.
    assert!(svgs >= 3, "{svgs} inline SVGs");
    assert!(images >= 3, "{images} images");

    let eval_dir = tmp.path().join("eval");
    let out = run(&["eval", "--model", run_dir.to_str().unwrap(), "--out", eval_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("decision: settles after"), "{}", text(&out.stdout));
    let page = eval_dir.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains(&accuracy) && html.contains("Resolved config"));
    browser::check_page(&page);
}

#[test]
#[ignore = "needs chromium-headless-shell"]
fn compare_page_renders_two_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tiny_data(tmp.path());
    let a = train(tmp.path(), &data, "a", &["--set", "train.learning_rate=0.01"]);
    let b = train(tmp.path(), &data, "b", &["--set", "train.learning_rate=0.003"]);
    let comparison = lstm_mnist::compare::compare(&[a, b]).unwrap();
    let out = tmp.path().join("cmp");
    lstm_mnist::compare::write_outputs(&comparison, &out).unwrap();
    let page = out.join(lstm_mnist::html::COMPARE_HTML);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("train.learning_rate") && html.contains("0.003") && html.contains("<h2>Groups</h2>"));
    let (_, svgs) = browser::check_page(&page);
    assert_eq!(svgs, 1, "the overlaid curves");
}

/// The real MNIST test digits shipped in data/mnist-sample, first 40 images.
fn real_digits(tmp: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist-sample");
    let bytes = mnist_data::idx::read_images(&root.join("t10k-images-idx3-ubyte.gz")).unwrap();
    let n = 40;
    let path = tmp.join("digits-idx3-ubyte");
    std::fs::write(&path, common::idx_images(n, 28, 28, &bytes.pixels[..n * 28 * 28])).unwrap();
    path
}

#[test]
fn explain_on_real_digits_agrees_with_predict() {
    let tmp = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist-sample");
    let config = tmp.path().join("mnist.json");
    let json = format!(
        r#"{{"name": "mnist", "device": "cpu", "threads": 1, "data": {{"dir": {:?}}}, "model": {{"hidden": 32}},
            "train": {{"learning_rate": 0.005, "batch_size": 64, "training_iters": 6400, "display_step": 50,
                       "checkpoint_every": 0}}}}"#,
        root.display().to_string()
    );
    std::fs::write(&config, json).unwrap();
    let run_dir = tmp.path().join("mnist");
    let out = run(&["train", "--config", config.to_str().unwrap(), "--out", run_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let digits = real_digits(tmp.path());
    let (model, file) = (run_dir.to_str().unwrap(), digits.to_str().unwrap());
    let pictures = tmp.path().join("explained");
    let out = run(&["explain", "--model", model, file, "--json", "--out", pictures.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let explained: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = run(&["predict", "--model", model, file, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let predicted: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let (explained, predicted) = (explained.as_array().unwrap(), predicted.as_array().unwrap());
    assert_eq!((explained.len(), predicted.len()), (40, 40));
    for (e, p) in explained.iter().zip(predicted) {
        assert_eq!((&e["index"], &e["class"], &e["name"]), (&p["index"], &p["class"], &p["name"]));
        let steps = e["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 28, "one probability list per row");
        for s in steps {
            let s: Vec<f64> = s.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            assert_eq!(s.len(), 10);
            assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-4);
        }
        let last: Vec<f64> = steps[27].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let want: Vec<f64> = p["probabilities"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!(last.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-5), "last step = predict's probabilities");
        let at = e["decided_at"].as_u64().unwrap();
        assert!((1..=28).contains(&at));
        // From the deciding row on, the most probable class is the final one; just before, it is not.
        let argmax = |s: &serde_json::Value| {
            let v: Vec<f64> = s.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b }) as u64
        };
        let class = e["class"].as_u64().unwrap();
        assert!(steps[at as usize - 1..].iter().all(|s| argmax(s) == class));
        if at > 1 {
            assert_ne!(argmax(&steps[at as usize - 2]), class);
        }
    }
    let written = std::fs::read_dir(&pictures).unwrap().count();
    assert_eq!(written, 40, "one picture per image");
    let first = image::open(pictures.join("digits-idx3-ubyte-00000.png")).unwrap();
    assert!(first.width() > 300 && first.height() > 200);
    // The text table: one block per image, 28 rows each.
    let out = run(&["explain", "--model", model, file]);
    let table = text(&out.stdout);
    assert_eq!(table.lines().filter(|l| l.contains("decided at row")).count(), 40);
    assert_eq!(table.lines().filter(|l| l.trim_start().starts_with("row ")).count(), 40 * 28);
}

#[test]
#[should_panic(expected = "external reference")]
fn a_page_referring_to_another_file_is_refused() {
    browser::assert_self_contained("<html><body><img src=\"errors.png\" alt=\"x\"></body></html>");
}
