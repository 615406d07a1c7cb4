use super::*;

const TOY: &str = "@problemName Toy\n@univariate false\n@dimensions 2\n@equalLength false\n\
                   @classLabel true a b\n@data\n";

/// A problem `Toy` in `dir/Toy/`: training cases of lengths 1..=4 (classes
/// alternating), test cases of lengths 2 and 3.
fn write_toy(dir: &Path) {
    let folder = dir.join("Toy");
    std::fs::create_dir_all(&folder).unwrap();
    let case = |len: usize, label: &str, base: f32| {
        let d1: Vec<String> = (0..len).map(|t| (base + t as f32).to_string()).collect();
        let d2: Vec<String> = (0..len).map(|t| (10.0 * (base + t as f32)).to_string()).collect();
        format!("{}:{}:{label}\n", d1.join(","), d2.join(","))
    };
    let train: String = (0..8).map(|i| case(i % 4 + 1, ["a", "b"][i % 2], i as f32)).collect();
    std::fs::write(folder.join("Toy_TRAIN.ts"), format!("{TOY}{train}")).unwrap();
    let test = case(2, "b", 0.0) + &case(3, "a", 1.0);
    std::fs::write(folder.join("Toy_TEST.ts"), format!("{TOY}{test}")).unwrap();
}

fn config(dir: &Path) -> TsConfig {
    TsConfig { dir: Some(dir.to_owned()), normalize: Normalize::Scale, ..TsConfig::new("Toy") }
}

#[test]
fn a_problem_becomes_padded_splits_with_lengths_and_class_names() {
    let tmp = tempfile::tempdir().unwrap();
    write_toy(tmp.path());
    let data = config(tmp.path()).load(&Locations::default()).unwrap();
    assert_eq!(data.class_names, ["a", "b"]);
    assert_eq!(data.input, InputSpec::Sequence(SequenceInput { features: 2, points_per_step: 1 }));
    assert_eq!(data.train.features.size(), [8, 4, 2]);
    assert_eq!(Vec::<i64>::try_from(data.train.lengths.as_ref().unwrap()).unwrap(), [1, 2, 3, 4, 1, 2, 3, 4]);
    assert_eq!(Vec::<i64>::try_from(&data.train.labels).unwrap(), [0, 1, 0, 1, 0, 1, 0, 1]);
    // Case 1 (length 2, base 1): values then zero padding.
    let case: Vec<f32> = Vec::try_from(data.train.features.get(1).flatten(0, -1)).unwrap();
    assert_eq!(case, [1., 10., 2., 20., 0., 0., 0., 0.]);
    assert_eq!(data.test.features.size(), [2, 3, 2]);
    data.train.check("training split").unwrap();
    data.test.check("test split").unwrap();
    assert!(data.validation.is_none() && data.standardization.is_none());
}

#[test]
fn files_directly_in_dir_are_found_too() {
    let tmp = tempfile::tempdir().unwrap();
    write_toy(tmp.path());
    let flat = tmp.path().join("flat");
    std::fs::rename(tmp.path().join("Toy"), &flat).unwrap();
    let data = config(&flat).load(&Locations::default()).unwrap();
    assert_eq!(data.train.len(), 8);
    // Without data.dir, the application's folder of problems.
    let places = Locations { default_dir: None, cache_dir: Some(flat.clone()) };
    let cfg = TsConfig { normalize: Normalize::Scale, ..TsConfig::new("Toy") };
    assert_eq!(cfg.load(&places).unwrap().test.len(), 2);
}

#[test]
fn standardisation_is_per_dimension_over_real_training_steps() {
    let tmp = tempfile::tempdir().unwrap();
    write_toy(tmp.path());
    let cfg = TsConfig { normalize: Normalize::Standardize, ..config(tmp.path()) };
    let data = cfg.load(&Locations::default()).unwrap();
    let st = data.standardization.unwrap();
    // Real steps of dimension 1: base i + t for t < len(i); their mean.
    let real: Vec<f64> = (0..8).flat_map(|i| (0..i % 4 + 1).map(move |t| (i + t) as f64)).collect();
    let mean = real.iter().sum::<f64>() / real.len() as f64;
    assert_eq!(st.mean.len(), 2);
    assert!((st.mean[0] - mean).abs() < 1e-9 && (st.mean[1] - 10.0 * mean).abs() < 1e-6, "{st:?}");
    let first = data.test.features.double_value(&[0, 0, 0]);
    assert!((first - (0.0 - mean) / st.std[0]).abs() < 1e-5);
}

#[test]
fn validation_is_held_out_stratified_and_tightened() {
    let tmp = tempfile::tempdir().unwrap();
    write_toy(tmp.path());
    let cfg = TsConfig { validation: Some(ValidationSize::Count(2)), ..config(tmp.path()) };
    let data = cfg.load(&Locations::default()).unwrap();
    let validation = data.validation.unwrap();
    assert_eq!((data.train.len(), validation.len()), (6, 2));
    let mut labels = Vec::<i64>::try_from(&validation.labels).unwrap();
    labels.sort();
    assert_eq!(labels, [0, 1], "one of each class");
    for split in [&data.train, &validation] {
        split.check("split").unwrap();
        let longest = split.lengths.as_ref().map_or(split.features.size()[1], |l| l.max().int64_value(&[]));
        assert_eq!(split.features.size()[1], longest, "padded to its own longest sequence only");
    }
    let same = cfg.load(&Locations::default()).unwrap().validation.unwrap();
    assert!(same.labels.equal(&validation.labels) && same.features.equal(&validation.features), "seeded");
    let too_many = TsConfig { validation: Some(ValidationSize::Count(8)), ..config(tmp.path()) };
    let err = too_many.load(&Locations::default()).unwrap_err();
    assert!(err.is_config() && err.to_string().contains("data.validation"), "{err}");
}

#[test]
fn config_errors_name_the_key_and_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    write_toy(tmp.path());
    let err = TsConfig { problem: "Nope".into(), ..config(tmp.path()) }.load(&Locations::default()).unwrap_err();
    assert!(err.is_config() && err.to_string().contains("invalid data.problem = Nope"), "{err}");
    assert!(err.to_string().contains("Nope/Nope_TRAIN.ts"), "{err}");
    let err = config(&tmp.path().join("absent")).load(&Locations::default()).unwrap_err();
    assert!(err.is_config() && err.to_string().contains("invalid data.dir"), "{err}");
    let err = TsConfig { normalize: Normalize::Scale, ..TsConfig::new("Toy") }.load(&Locations::default()).unwrap_err();
    assert!(err.is_config() && err.to_string().contains("data.dir"), "{err}");
    for bad in ["", "../Toy", ".."] {
        let err = TsConfig { problem: bad.into(), ..config(tmp.path()) }.check().unwrap_err();
        assert!(err.is_config() && err.to_string().contains("data.problem"), "{err}");
    }
    let parsed: std::result::Result<TsConfig, _> =
        serde_json::from_value(serde_json::json!({"problem": "Toy", "colour": 1}));
    assert!(parsed.unwrap_err().to_string().contains("unknown field `colour`"));
    let parsed: TsConfig = serde_json::from_value(serde_json::json!({"problem": "Toy", "missing": "zero"})).unwrap();
    assert_eq!((parsed.missing, parsed.normalize), (Missing::Zero, Normalize::Standardize));
}

#[test]
fn train_and_test_files_must_agree() {
    let tmp = tempfile::tempdir().unwrap();
    write_toy(tmp.path());
    let test = tmp.path().join("Toy/Toy_TEST.ts");
    std::fs::write(&test, TOY.replace("true a b", "true a b c") + "1:2:c\n").unwrap();
    let err = config(tmp.path()).load(&Locations::default()).unwrap_err().to_string();
    assert!(err.contains("Toy_TRAIN.ts and ") && err.contains("different class names (a b and a b c)"), "{err}");
    std::fs::write(&test, TOY.replace("dimensions 2", "dimensions 1") + "1:a\n").unwrap();
    let err = config(tmp.path()).load(&Locations::default()).unwrap_err().to_string();
    assert!(err.contains("2 and 1 dimensions"), "{err}");
}

/// The aeon 1.6.0 wheel's problems (scripts/setup-ts-data.sh).
fn aeon_dir() -> PathBuf {
    let cache = std::env::var_os("LSTM_MNIST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/lstm-mnist"));
    cache.join("data")
}

#[test]
#[ignore = "needs aeon data"]
fn japanese_vowels_reads_as_the_archive_describes_it() {
    let data =
        TsConfig { dir: Some(aeon_dir()), ..TsConfig::new("JapaneseVowels") }.load(&Locations::default()).unwrap();
    assert_eq!((data.train.len(), data.test.len(), data.class_names.len()), (270, 370, 9));
    assert_eq!(data.train.features.size()[2], 12);
    let lengths = data.train.lengths.as_ref().unwrap();
    assert_eq!((lengths.min().int64_value(&[]), lengths.max().int64_value(&[])), (7, 26));
    assert_eq!(data.standardization.unwrap().mean.len(), 12);
}

#[test]
#[ignore = "needs aeon data"]
fn every_aeon_classification_problem_loads() {
    for (problem, train, test, dims) in [
        ("ItalyPowerDemand", 67, 1029, 1),
        ("GunPoint", 50, 150, 1),
        ("BasicMotions", 40, 40, 6),
        ("ArrowHead", 36, 175, 1),
        ("OSULeaf", 200, 242, 1),
        ("ACSF1", 100, 100, 1),
        ("PickupGestureWiimoteZ", 50, 50, 1),
    ] {
        let data = TsConfig { dir: Some(aeon_dir()), ..TsConfig::new(problem) }.load(&Locations::default()).unwrap();
        assert_eq!(
            (data.train.len(), data.test.len(), data.train.features.size()[2]),
            (train, test, dims),
            "{problem}"
        );
    }
    let err = TsConfig { dir: Some(aeon_dir()), ..TsConfig::new("Covid3Month") }.load(&Locations::default());
    assert!(err.unwrap_err().to_string().contains("regression"));
}
