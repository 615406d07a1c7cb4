//! Tests of [`load`](crate::load) on small datasets written here.

use super::*;
use idx::{encode_images, encode_labels};
use std::path::Path;
use tch::{Kind, Tensor};

/// Loads with no application folders: every test names its folder.
fn load(config: &DataConfig) -> Result<Dataset> {
    crate::load(config, &Locations::default())
}

#[test]
fn class_names_from_the_config_are_checked_against_the_labels() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), &[0, 1, 11, 3], &[4, 2]);
    let names: Vec<String> = (0..12).map(|i| format!("class {i}")).collect();
    let config = DataConfig { class_names: Some(names.clone()), ..DataConfig::from_dir(dir.path()) };
    let data = load(&config).unwrap();
    assert_eq!(data.class_names, names);
    assert_eq!(Vec::<i64>::try_from(&data.train.labels).unwrap(), vec![0, 1, 11, 3]);
    // Without names, label 11 is out of range, and the error says how to fix it.
    let err = load(&DataConfig::from_dir(dir.path())).unwrap_err().to_string();
    assert!(err.contains("label 11") && err.contains("data.class_names"), "{err}");
    for (bad, expected) in [
        (names[..10].to_vec(), "10 names given"),
        ([names.clone(), vec!["one more".into()]].concat(), "use 12 classes (0 to 11)"),
        ([&names[..11], &["class 3".to_owned()]].concat(), "given twice"),
        ([&names[..11], &[" ".to_owned()]].concat(), "empty"),
    ] {
        let config = DataConfig { class_names: Some(bad), ..DataConfig::from_dir(dir.path()) };
        let err = load(&config).unwrap_err();
        assert!(matches!(&err, DataError::InvalidConfig(c) if c.key == "data.class_names"), "{err}");
        assert!(err.is_config(), "{err}");
        assert!(err.to_string().contains(expected), "{err}");
    }
}

#[test]
#[ignore = "needs dataset-fashion-mnist"]
fn a_folder_holding_fashion_mnist_gets_its_class_names() {
    let dir = std::path::Path::new(datasets::FASHION_MNIST.system_dirs[0]);
    assert!(
        dir.join("train-labels-idx1-ubyte.gz").is_file(),
        "needs dataset-fashion-mnist: {} missing; install the test tools with scripts/setup-test-tools.sh",
        dir.display()
    );
    let data = load(&DataConfig::from_dir(dir)).unwrap();
    assert_eq!(data.class_names, datasets::FASHION_MNIST.class_names());
}

fn write_dataset(dir: &Path, train_labels: &[u8], test_labels: &[u8]) {
    let (r, c) = (3, 2);
    for (stem, labels) in [("train", train_labels), ("t10k", test_labels)] {
        let pixels: Vec<u8> = (0..labels.len() * r * c).map(|i| (i * 37 % 256) as u8).collect();
        std::fs::write(dir.join(format!("{stem}-images-idx3-ubyte")), encode_images(labels.len(), r, c, &pixels))
            .unwrap();
        std::fs::write(dir.join(format!("{stem}-labels.idx1-ubyte")), encode_labels(labels)).unwrap();
    }
}

#[test]
fn loads_tensors_of_the_right_shape_and_scale() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), &[0, 1, 2, 9], &[3, 4]);
    let data = load(&DataConfig::from_dir(dir.path())).unwrap();
    assert_eq!(data.train.features.size(), [4, 3, 2]);
    assert_eq!(data.test.labels.size(), [2]);
    assert_eq!(Vec::<i64>::try_from(&data.train.labels).unwrap(), vec![0, 1, 2, 9]);
    assert_eq!(data.train.features.kind(), Kind::Float);
    let second = data.train.features.double_value(&[0, 0, 1]);
    assert!((second - 37.0 / 255.0).abs() < 1e-7);
    assert_eq!(data.class_names.len(), NUM_CLASSES);
}

#[test]
fn names_missing_files_and_folders() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(&DataConfig::from_dir(dir.path().join("nope"))).unwrap_err();
    assert!(matches!(err, DataError::MissingDir(_)) && err.is_config(), "{err}");
    let err = load(&DataConfig::from_dir(dir.path())).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("train-images-idx3-ubyte.gz") && msg.contains("train-images.idx3-ubyte"), "{msg}");
    assert!(err.is_config(), "a folder without the dataset's files is the config's fault: {msg}");
}

#[test]
fn rejects_label_out_of_range_and_count_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), &[0, 10], &[1]);
    let err = load(&DataConfig::from_dir(dir.path())).unwrap_err();
    assert!(matches!(err, DataError::LabelOutOfRange { index: 1, label: 10, .. }) && !err.is_config(), "{err}");
    std::fs::write(dir.path().join("train-labels.idx1-ubyte"), encode_labels(&[0])).unwrap();
    let err = load(&DataConfig::from_dir(dir.path())).unwrap_err();
    assert!(matches!(err, DataError::CountMismatch { images: 2, labels: 1, .. }), "{err}");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// `per_class` examples of each class, `r x c` images whose pixels encode the label.
fn labels_of(per_class: usize) -> Vec<u8> {
    (0..per_class * NUM_CLASSES).map(|i| (i % NUM_CLASSES) as u8).collect()
}

#[test]
fn both_naming_styles_and_gzip_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let (r, c) = (5, 7); // not square: rows are time steps, columns features
    let train = [3u8, 1, 4, 1, 5];
    let test = [9u8, 2];
    let px = |n: usize| (0..n * r * c).map(|i| (i % 256) as u8).collect::<Vec<u8>>();
    // Dotted name, gzipped content under a name without `.gz`.
    std::fs::write(dir.path().join("train-images.idx3-ubyte"), gzip(&encode_images(5, r, c, &px(5)))).unwrap();
    // Dashed name ending in `.gz` but raw content.
    std::fs::write(dir.path().join("train-labels-idx1-ubyte.gz"), encode_labels(&train)).unwrap();
    std::fs::write(dir.path().join("t10k-images-idx3-ubyte.gz"), gzip(&encode_images(2, r, c, &px(2)))).unwrap();
    std::fs::write(dir.path().join("t10k-labels.idx1-ubyte"), encode_labels(&test)).unwrap();
    let data = load(&DataConfig::from_dir(dir.path())).unwrap();
    assert_eq!(data.train.features.size(), [5, 5, 7]);
    assert_eq!(Vec::<i64>::try_from(&data.train.labels).unwrap(), vec![3, 1, 4, 1, 5]);
    assert_eq!(Vec::<i64>::try_from(&data.test.labels).unwrap(), vec![9, 2]);
    assert!((data.test.features.double_value(&[1, 0, 0]) - 35.0 / 255.0).abs() < 1e-7);
    assert!(data.validation.is_none());
}

#[test]
fn train_and_test_shapes_must_agree() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), &[0, 1], &[2]);
    std::fs::write(dir.path().join("t10k-images-idx3-ubyte"), encode_images(1, 2, 3, &[0; 6])).unwrap();
    let err = load(&DataConfig::from_dir(dir.path())).unwrap_err();
    assert!(matches!(err, DataError::ShapeMismatch { train_shape: (3, 2), test_shape: (2, 3), .. }), "{err}");
    assert!(err.to_string().contains("t10k-images-idx3-ubyte"), "{err}");
}

#[test]
fn validation_split_is_stratified_seeded_and_sized() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), &labels_of(10), &[0, 1]);
    let config = |v| DataConfig { validation: Some(v), seed: 3, ..DataConfig::from_dir(dir.path()) };
    let data = load(&config(ValidationSize::Count(20))).unwrap();
    let val = data.validation.as_ref().unwrap();
    assert_eq!((data.train.len(), val.len()), (80, 20));
    let counts = val.labels.bincount(None::<Tensor>, NUM_CLASSES as i64);
    assert_eq!(Vec::<i64>::try_from(&counts).unwrap(), vec![2; NUM_CLASSES], "2 of each class");
    // Same seed, same split; images follow their labels.
    let again = load(&config(ValidationSize::Count(20))).unwrap();
    assert!(again.validation.unwrap().features.equal(&val.features));
    let frac = load(&config(ValidationSize::Fraction(0.3))).unwrap();
    assert_eq!((frac.train.len(), frac.validation.unwrap().len()), (70, 30));
    for bad in [ValidationSize::Count(100), ValidationSize::Fraction(1.0), ValidationSize::Fraction(0.001)] {
        let err = load(&config(bad)).unwrap_err();
        assert!(matches!(&err, DataError::InvalidConfig(c) if c.key == "data.validation"), "{err}");
        assert!(err.is_config(), "{err}");
    }
}

#[test]
fn standardize_uses_the_training_mean_and_std() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), &labels_of(3), &[0, 1, 2]);
    let scaled = load(&DataConfig::from_dir(dir.path())).unwrap();
    let config = DataConfig { normalize: Normalize::Standardize, ..DataConfig::from_dir(dir.path()) };
    let data = load(&config).unwrap();
    let st = data.standardization.unwrap();
    assert!((st.mean[0] - scaled.train.features.mean(Kind::Double).double_value(&[])).abs() < 1e-9);
    assert!(data.train.features.mean(Kind::Double).double_value(&[]).abs() < 1e-5);
    assert!((data.train.features.std(true).double_value(&[]) - 1.0).abs() < 1e-5);
    let expected = (scaled.test.features.double_value(&[0, 0, 1]) - st.mean[0]) / st.std[0];
    assert!((data.test.features.double_value(&[0, 0, 1]) - expected).abs() < 1e-5, "test split uses train stats");
}

#[test]
fn download_needs_a_named_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let config = DataConfig { download: true, ..DataConfig::from_dir(dir.path()) };
    assert!(matches!(load(&config), Err(DataError::InvalidConfig(c)) if c.key == "data.download"));
}

#[cfg(feature = "download")]
#[test]
fn missing_files_of_a_named_dataset_are_downloaded_then_loaded() {
    use crate::download::tests::{serve, sha, Reply};
    // A 2-example dataset published on a loopback mirror, under the official names.
    let files: Vec<Vec<u8>> = vec![
        gzip(&encode_images(2, 2, 2, &[0, 255, 0, 255, 1, 2, 3, 4])),
        gzip(&encode_labels(&[8, 9])),
        gzip(&encode_images(1, 2, 2, &[9; 4])),
        gzip(&encode_labels(&[7])),
    ];
    let names = [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ];
    let sums: Vec<&'static str> = files.iter().map(|f| &*Box::leak(sha(f).into_boxed_str())).collect();
    let mut named = datasets::FASHION_MNIST;
    for (i, f) in named.files.iter_mut().enumerate() {
        f.sha256 = sums[i];
    }
    let table = names.iter().zip(&files).map(|(n, f)| (format!("/fm/{n}"), Reply::Ok(f.clone()))).collect();
    let (base, log) = serve(table);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("fashion");
    // One file is already there: only the three others are fetched.
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("t10k-labels-idx1-ubyte"), encode_labels(&[7])).unwrap();
    download::download_missing(&target, &named, &[format!("{base}/fm/")]).unwrap();
    assert_eq!(log.lock().unwrap().len(), 3);
    let data = load(&DataConfig::from_dir(&target)).unwrap();
    assert_eq!(Vec::<i64>::try_from(&data.train.labels).unwrap(), vec![8, 9]);
    // With the real checksums, the loopback files are refused and nothing is written.
    let other = dir.path().join("other");
    let err = download::download_missing(&other, &datasets::FASHION_MNIST, &[format!("{base}/fm/")]).unwrap_err();
    assert!(err.to_string().contains("SHA-256 mismatch"), "{err}");
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 0);
}
