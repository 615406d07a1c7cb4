//! Loading a whole MNIST-family dataset (four gzipped IDX files) into tensors.
//!
//! `cargo bench -p mnist-data --bench load` measures full Fashion-MNIST
//! (60,000 + 10,000 images) from `/usr/share/datasets/fashion-mnist` (Debian's
//! `dataset-fashion-mnist`; set `FASHION_MNIST_DIR` to use another folder),
//! with and without a 5,000-image validation hold-out. When the folder is
//! missing, it falls back to the project's 10,000-digit sample.
#![allow(missing_docs)] // criterion_group! defines an undocumented public function

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use mnist_data::{load, DataConfig, Locations, ValidationSize};

fn dataset_dir() -> PathBuf {
    let dir = std::env::var_os("FASHION_MNIST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/share/datasets/fashion-mnist"));
    if dir.is_dir() {
        dir
    } else {
        eprintln!("{} not found: benchmarking data/mnist-sample instead", dir.display());
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist-sample")
    }
}

fn bench_load(c: &mut Criterion) {
    let dir = dataset_dir();
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    let plain = DataConfig::from_dir(&dir);
    let held_out = DataConfig { validation: Some(ValidationSize::Count(5000)), ..DataConfig::from_dir(&dir) };
    group.bench_function("train+test", |b| b.iter(|| load(&plain, &Locations::default()).expect("dataset loads")));
    group.bench_function("train+validation+test", |b| {
        b.iter(|| load(&held_out, &Locations::default()).expect("dataset loads"))
    });
    group.finish();
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
