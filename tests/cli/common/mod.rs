//! Helpers shared by the integration tests of the binary: running it,
//! reading what it prints and writes, and small learnable IDX datasets
//! written with `mnist-data`'s own encoder.
#![allow(dead_code)] // each test file uses its own subset

pub mod tensorboard;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use flate2::{write::GzEncoder, Compression};
use mnist_data::idx::{encode_images, encode_labels};
use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_lstm-mnist");
/// Image height of the test datasets.
pub const ROWS: usize = 6;
/// Image width of the test datasets.
pub const COLS: usize = 5;

/// Runs the binary with no `LD_LIBRARY_PATH` (it must find libtorch by rpath).
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env_remove("LD_LIBRARY_PATH").output().unwrap()
}

/// [`run`] with `cwd` as the working directory (relative paths in configs,
/// default run folders under `runs/`).
pub fn run_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(BIN).args(args).current_dir(cwd).env_remove("LD_LIBRARY_PATH").output().unwrap()
}

/// Output as text, without the colour escapes (`ESC [ ... letter`) of log lines.
pub fn text(bytes: &[u8]) -> String {
    let raw = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A JSON file the binary wrote; panics naming the file when it is missing.
pub fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `bytes` gzipped.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// An IDX image file of `count` images of `rows x cols` (`pixels` may be
/// shorter or longer than the header says, to write broken files).
pub fn idx_images(count: usize, rows: usize, cols: usize, pixels: &[u8]) -> Vec<u8> {
    encode_images(count, rows, cols, pixels)
}

/// An IDX label file.
pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    encode_labels(labels)
}

/// One learnable 6x5 image of class `label`: the class lights up row
/// `label % 6` and, for classes 6 to 9, also column `label - 6`.
pub fn digit(label: u8, noise_seed: usize) -> Vec<u8> {
    let mut pixels = Vec::with_capacity(ROWS * COLS);
    for r in 0..ROWS {
        for c in 0..COLS {
            let on = r == label as usize % 6 || (label >= 6 && c == label as usize - 6);
            let noise = ((noise_seed * 31 + r * 7 + c * 13) % 40) as u8;
            pixels.push(if on { 215 + noise } else { noise });
        }
    }
    pixels
}

/// Creates the folder `dir` (and its parents) and writes a training split of
/// `train` and a test split of `test` examples into it ([`write_split`]); returns `dir`.
pub fn write_dataset(dir: PathBuf, train: usize, test: usize, gzipped: bool) -> PathBuf {
    std::fs::create_dir_all(&dir).unwrap();
    write_split(&dir, "train", train, gzipped);
    write_split(&dir, "t10k", test, gzipped);
    dir
}

/// Writes the image and label files of split `stem` (`train` or `t10k`) with
/// `count` examples of all 10 classes, gzipped (`.gz` names) or raw.
pub fn write_split(dir: &Path, stem: &str, count: usize, gzipped: bool) {
    let labels: Vec<u8> = (0..count).map(|i| (i * 7 % 10) as u8).collect();
    let pixels: Vec<u8> = labels.iter().enumerate().flat_map(|(i, &l)| digit(l, i)).collect();
    let (images, labels) = (idx_images(count, ROWS, COLS, &pixels), idx_labels(&labels));
    let (images, labels, ext) = if gzipped { (gzip(&images), gzip(&labels), ".gz") } else { (images, labels, "") };
    std::fs::write(dir.join(format!("{stem}-images-idx3-ubyte{ext}")), images).unwrap();
    std::fs::write(dir.join(format!("{stem}-labels-idx1-ubyte{ext}")), labels).unwrap();
}

/// Raw IDX files of a 10-class dataset of 4x3 images, each lighting the
/// pixel of its class: `per_class` examples of each class in training, 2 in
/// the test split.
pub fn write_one_hot_dataset(dir: &Path, per_class: usize) {
    for (stem, count) in [("train", per_class * 10), ("t10k", 20)] {
        let labels: Vec<u8> = (0..count).map(|i| (i % 10) as u8).collect();
        let pixels: Vec<u8> =
            labels.iter().flat_map(|&l| (0..12).map(move |p| if p == l as usize { 255 } else { 0 })).collect();
        std::fs::write(dir.join(format!("{stem}-images-idx3-ubyte")), idx_images(count, 4, 3, &pixels)).unwrap();
        std::fs::write(dir.join(format!("{stem}-labels-idx1-ubyte")), idx_labels(&labels)).unwrap();
    }
}
