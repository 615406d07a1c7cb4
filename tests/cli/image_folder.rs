//! Training on a folder of class folders of pictures (`"source": "image-folder"`)
//! through the binary, then `predict` with the folder names as class names and
//! `--invert` auto, yes and no, on tiny pictures the test draws itself.

use crate::common;

use std::path::Path;

use common::{read_json as json, run, text};
use image::{GrayImage, ImageFormat, Luma};

/// Side of the pictures and of the model's input.
const SIDE: u32 = 12;

/// The class folders, unsorted; the model's classes are these sorted.
const NAMES: [&str; 4] = ["gamma", "alpha", "delta", "beta"];

/// A picture of class folder `NAMES[k]`: a bright bar across rows 3k..3k+2
/// (columns 2..10), with some noise, on black; `dark_on_light` draws it in
/// black on white instead.
fn picture(k: usize, seed: usize, dark_on_light: bool) -> GrayImage {
    GrayImage::from_fn(SIDE, SIDE, |x, y| {
        let on = (3 * k..3 * k + 2).contains(&(y as usize)) && (2..10).contains(&x);
        let noise = ((seed * 31 + y as usize * 7 + x as usize * 13) % 50) as u8;
        let value = if on { 205 + noise } else { noise };
        Luma([if dark_on_light { 255 - value } else { value }])
    })
}

/// Writes `count` pictures of every class into `dir/<split>/<name>/`.
fn write_split(dir: &Path, split: &str, count: usize) {
    for (k, name) in NAMES.iter().enumerate() {
        let folder = dir.join(split).join(name);
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..count {
            let path = folder.join(format!("{i:03}.png"));
            picture(k, i + 100 * k, false).save_with_format(path, ImageFormat::Png).unwrap();
        }
    }
}

/// Trains a small model on a picture folder; returns the temp dir and the run folder.
fn trained() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("pictures");
    write_split(&data, "train", 40);
    write_split(&data, "test", 10);
    // A JPEG among the PNGs.
    let jpeg = data.join("test/beta/extra.jpg");
    image::DynamicImage::ImageLuma8(picture(3, 7, false)).to_rgb8().save_with_format(jpeg, ImageFormat::Jpeg).unwrap();
    let run_dir = tmp.path().join("run");
    let section =
        format!(r#"data={{"source": "image-folder", "dir": {:?}, "size": {SIDE}}}"#, data.display().to_string());
    let out = run(&[
        "train",
        "--config",
        concat!(env!("CARGO_MANIFEST_DIR"), "/configs/seed.json"),
        "--out",
        run_dir.to_str().unwrap(),
        "--set",
        &section,
        "--set",
        "model.hidden=16",
        "--set",
        "train.learning_rate=0.01",
        "--set",
        "train.batch_size=16",
        "--set",
        "train.training_iters=4000",
        "--set",
        "device=cpu",
        "--set",
        "threads=1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    (tmp, run_dir)
}

#[test]
fn trains_on_class_folders_and_predicts_their_names_either_way_round() {
    let (tmp, run_dir) = trained();
    let spec = json(&run_dir.join("model/model.json"));
    assert_eq!(spec["class_names"], serde_json::json!(["alpha", "beta", "delta", "gamma"]));
    assert_eq!((spec["image_height"].as_i64(), spec["image_width"].as_i64()), (Some(12), Some(12)));
    let report = json(&run_dir.join("report.json"));
    assert_eq!(report["samples"], 41);
    assert!(report["accuracy"].as_f64().unwrap() >= 0.9, "{report}");
    let config = json(&run_dir.join("config.json"));
    assert_eq!(config["data"]["source"], "image-folder");
    assert_eq!(config["data"]["invert"], "auto");

    // A "delta" (class folder 2, class index 2), light on dark at the model's
    // size, and the same drawn dark on light, four times larger.
    let light = tmp.path().join("light.png");
    let dark = tmp.path().join("dark-on-white.png");
    picture(2, 999, false).save(&light).unwrap();
    let big = image::imageops::resize(&picture(2, 999, true), 48, 48, image::imageops::FilterType::Nearest);
    big.save(&dark).unwrap();
    let run_arg = run_dir.to_str().unwrap();
    let out = run(&["predict", "--model", run_arg, light.to_str().unwrap(), dark.to_str().unwrap()]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with(&format!("{}: 2 delta (", light.display())), "{stdout}");
    assert!(lines[1].starts_with(&format!("{}: 2 delta (", dark.display())), "{stdout}");
    assert!(stderr.contains(&format!("{}: inverted", dark.display())), "{stderr}");
    assert!(!stderr.contains(&format!("{}: inverted", light.display())), "{stderr}");

    // --json: the name and whether the picture was inverted.
    let out = run(&["predict", "--model", run_arg, "--json", light.to_str().unwrap(), dark.to_str().unwrap()]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((rows[0]["name"].as_str(), rows[0]["inverted"].as_bool()), (Some("delta"), Some(false)));
    assert_eq!((rows[1]["name"].as_str(), rows[1]["inverted"].as_bool()), (Some("delta"), Some(true)));
    assert_eq!(rows[0]["probabilities"], rows[1]["probabilities"], "the same pixels after inversion");

    // --invert no (with or without "="), --invert alone meaning yes.
    for args in [&["--invert", "no"][..], &["--invert=no"]] {
        let out = run(&[&["predict", "--model", run_arg, "--json"][..], args, &[dark.to_str().unwrap()]].concat());
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(rows[0]["inverted"], false, "{args:?}");
        assert!(!text(&out.stderr).contains("inverted"), "{args:?}");
    }
    let out = run(&["predict", "--model", run_arg, "--json", "--invert", light.to_str().unwrap()]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["inverted"], true, "{}", text(&out.stderr));
    let out = run(&["predict", "--model", run_arg, "--invert=sometimes", light.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn bad_pictures_and_layouts_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("pictures");
    write_split(&data, "train", 3);
    write_split(&data, "test", 1);
    std::fs::write(data.join("train/beta/broken.png"), b"\x89PNG\r\n\x1a\n").unwrap();
    let section = format!(r#"data={{"source": "image-folder", "dir": {:?}}}"#, data.display().to_string());
    let train = |extra: &[&str]| {
        let out_dir = tmp.path().join("run");
        let args = [
            &[
                "train",
                "--config",
                concat!(env!("CARGO_MANIFEST_DIR"), "/configs/seed.json"),
                "--out",
                out_dir.to_str().unwrap(),
                "--force",
                "--set",
                &section,
                "--set",
                "model.hidden=4",
                "--set",
                "train.training_iters=10",
                "--set",
                "train.batch_size=4",
                "--set",
                "device=cpu",
            ][..],
            extra,
        ]
        .concat();
        run(&args)
    };
    let out = train(&[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("broken.png") && stderr.contains("data.skip_bad"), "{stderr}");
    assert!(!tmp.path().join("run").exists(), "nothing written before the data is read");

    let out = train(&["--set", "data.skip_bad=true"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("skipped=1") && stderr.contains("broken.png"), "{stderr}");

    std::fs::remove_dir_all(data.join("test")).unwrap();
    let out = train(&["--set", "data.skip_bad=true"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&data.join("test").display().to_string()), "{stderr}");
}
