use super::*;
use crate::picture::Invert;
use data_core::ValidationSize;
use image::{GrayImage, ImageFormat, Luma};

/// A 12x12 picture of class `class`: a bright bar whose row is the class,
/// on black (or, `dark_on_light`, a black bar on white).
fn bar(class: usize, dark_on_light: bool) -> GrayImage {
    GrayImage::from_fn(12, 12, |_, y| {
        let ink = y as usize / 4 == class;
        Luma([if ink != dark_on_light { 255 } else { 0 }])
    })
}

/// Writes `count` pictures per class into `dir/split/<class>/`.
fn write_split(dir: &Path, split: &str, classes: &[&str], count: usize) {
    for (c, name) in classes.iter().enumerate() {
        let folder = dir.join(split).join(name);
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..count {
            // Every third picture is dark on light, every fifth a JPEG.
            let picture = bar(c, i % 3 == 2);
            if i % 5 == 4 {
                let rgb = image::DynamicImage::ImageLuma8(picture).to_rgb8();
                rgb.save_with_format(folder.join(format!("{i}.jpg")), ImageFormat::Jpeg).unwrap();
            } else {
                picture.save_with_format(folder.join(format!("{i}.png")), ImageFormat::Png).unwrap();
            }
        }
    }
}

const CLASSES: [&str; 3] = ["top", "middle", "bottom"];

fn folder(train: usize, test: usize) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    write_split(tmp.path(), "train", &CLASSES, train);
    write_split(tmp.path(), "test", &CLASSES, test);
    tmp
}

#[test]
fn loads_sorted_classes_resized_and_inverted() {
    let tmp = folder(6, 2);
    let mut config = ImageFolderConfig::from_dir(tmp.path());
    config.size = ImageSize { height: 6, width: 3 };
    let (data, report) = load_with_report(&config).unwrap();
    assert_eq!(data.class_names, ["bottom", "middle", "top"]);
    assert_eq!(data.input, InputSpec::Picture(PictureInput::new(6, 3, Invert::Auto)));
    assert_eq!(data.train.features.size(), [18, 6, 3]);
    assert_eq!(data.train.features.kind(), Kind::Float);
    assert_eq!(data.train.labels.kind(), Kind::Int64);
    assert_eq!(data.test.features.size(), [6, 6, 3]);
    assert!(data.validation.is_none());
    let labels: Vec<i64> = Vec::try_from(&data.train.labels).unwrap();
    assert_eq!(labels, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
    // Dark-on-light training pictures (2 of every 6 per class) were inverted, so every image of
    // a class is alike: a bright band at the class's rows.
    assert_eq!(report.inverted, 6);
    assert_eq!(report.images, 24);
    for (i, &label) in labels.iter().enumerate() {
        let row_of_bar = [2, 1, 0][label as usize] * 2; // "bottom" is bar 2, rows 4..6 of 6
        let image = data.train.features.get(i as i64);
        let band = image.narrow(0, row_of_bar, 2).mean(Kind::Float).double_value(&[]);
        let whole = image.mean(Kind::Float).double_value(&[]);
        assert!(band > 0.9 && whole < 0.4, "image {i}: band {band}, mean {whole}");
    }
    // With invert "no", the dark-on-light ones stay as they are.
    config.invert = Invert::No;
    let (raw, report) = load_with_report(&config).unwrap();
    assert_eq!(report.inverted, 0);
    assert!(raw.train.features.get(2).mean(Kind::Float).double_value(&[]) > 0.6);
}

#[test]
fn validation_from_val_folder_or_held_out() {
    let tmp = folder(10, 2);
    let mut config = ImageFolderConfig::from_dir(tmp.path());
    config.validation = Some(ValidationSize::Count(6));
    let data = load(&config).unwrap();
    assert_eq!(data.train.features.size()[0], 24);
    let validation: Vec<i64> = Vec::try_from(&data.validation.unwrap().labels).unwrap();
    assert_eq!(validation.len(), 6);
    for c in 0..3 {
        assert_eq!(validation.iter().filter(|&&l| l == c).count(), 2, "stratified");
    }
    // A val/ folder: used as is, and data.validation is then refused.
    write_split(tmp.path(), "val", &CLASSES[..2], 3);
    let err = load(&config).unwrap_err();
    assert!(err.is_config() && err.to_string().contains("val"), "{err}");
    config.validation = None;
    let data = load(&config).unwrap();
    assert_eq!(data.validation.unwrap().features.size()[0], 6);
    assert_eq!(data.train.features.size()[0], 30);
}

#[test]
fn a_bad_file_is_named_or_skipped_with_a_count() {
    let tmp = folder(4, 2);
    std::fs::write(tmp.path().join("train/middle/broken.png"), b"\x89PNG\r\n\x1a\ngarbage").unwrap();
    std::fs::write(tmp.path().join("train/top/text.jpg"), b"hello").unwrap();
    std::fs::write(tmp.path().join("train/top/notes.txt"), b"ignored").unwrap();
    let mut config = ImageFolderConfig::from_dir(tmp.path());
    let err = load(&config).unwrap_err();
    let message = err.to_string();
    assert!(!err.is_config(), "{message}");
    assert!(message.contains("broken.png") && message.contains("and 1 more bad file"), "{message}");
    assert!(message.contains("data.skip_bad"), "{message}");
    config.skip_bad = true;
    let (data, report) = load_with_report(&config).unwrap();
    assert_eq!(data.train.features.size()[0], 12);
    assert_eq!(report.skipped.len(), 2);
    assert_eq!(report.ignored, [tmp.path().join("train/top/notes.txt")]);
    // Labels still line up with images after the bad files are left out.
    let labels: Vec<i64> = Vec::try_from(&data.train.labels).unwrap();
    assert_eq!(labels, [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);

    // Nothing but bad files: the error says how many were skipped.
    let only_bad = tempfile::tempdir().unwrap();
    write_split(only_bad.path(), "test", &CLASSES[..1], 1);
    std::fs::create_dir_all(only_bad.path().join("train/top")).unwrap();
    std::fs::write(only_bad.path().join("train/top/bad.png"), b"nope").unwrap();
    let err = load(&ImageFolderConfig { skip_bad: true, ..ImageFolderConfig::from_dir(only_bad.path()) }).unwrap_err();
    assert!(err.to_string().contains("no images left to train on (1 unreadable files skipped"), "{err}");
}

#[test]
fn layout_mistakes_are_config_errors_naming_the_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let config = ImageFolderConfig::from_dir(tmp.path().join("nowhere"));
    let err = load(&config).unwrap_err();
    assert!(err.is_config() && err.to_string().contains("nowhere"), "{err}");
    let err = load(&ImageFolderConfig::default()).unwrap_err();
    assert!(err.is_config() && err.to_string().contains("data.dir"), "{err}");
    let config = ImageFolderConfig::from_dir(tmp.path());
    let err = load(&config).unwrap_err();
    assert!(err.is_config() && err.to_string().contains("train"), "{err}");
    std::fs::create_dir(tmp.path().join("train")).unwrap();
    let err = load(&config).unwrap_err();
    assert!(matches!(err, ImageFolderError::NoClasses(_)), "{err}");
    write_split(tmp.path(), "train", &CLASSES, 2);
    let err = load(&config).unwrap_err();
    assert!(err.is_config() && err.to_string().contains("test"), "{err}");
    std::fs::create_dir(tmp.path().join("test")).unwrap();
    let err = load(&config).unwrap_err();
    assert!(err.to_string().contains("no images left to test on"), "{err}");
    let bad_size = ImageFolderConfig { size: ImageSize { height: 0, width: 5 }, ..config };
    assert!(load(&bad_size).unwrap_err().to_string().contains("data.size"));
}

#[test]
fn standardize_uses_the_training_statistics() {
    let tmp = folder(3, 3);
    let config =
        ImageFolderConfig { normalize: data_core::Normalize::Standardize, ..ImageFolderConfig::from_dir(tmp.path()) };
    let data = load(&config).unwrap();
    let st = data.standardization.unwrap();
    assert!(st.mean[0] > 0.0 && st.std[0] > 0.0 && st.mean.len() == 1, "{st:?}");
    let train_mean = data.train.features.mean(Kind::Double).double_value(&[]);
    assert!(train_mean.abs() < 1e-5, "{train_mean}");
}

/// Issue 24 item 16: `size: [4096, 4096]` is refused before anything is
/// allocated when its pictures cannot fit, naming `data.size` (status 2);
/// small sizes and an unknown memory pass.
#[test]
fn pictures_too_large_for_memory_are_refused_naming_data_size() {
    let huge = ImageSize { height: 4096, width: 4096 };
    let gib8 = 8u64 << 30;
    let err = check_memory(100, huge, Some(gib8)).unwrap_err();
    assert!(err.is_config(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("data.size = 4096x4096") && text.contains("100 pictures") && text.contains("8.0 GiB"),
        "{text}"
    );
    assert!(check_memory(60_000, ImageSize::default(), Some(gib8)).is_ok());
    assert!(check_memory(usize::MAX, huge, None).is_ok());
    assert!(check_memory(usize::MAX, huge, Some(gib8)).unwrap_err().to_string().contains("more than 2^64 bytes"));
}
