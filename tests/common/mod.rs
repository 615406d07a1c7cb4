//! Helpers shared by the integration tests of the binary: small learnable IDX
//! datasets written by the tests themselves, and running the binary.
#![allow(dead_code)] // each test file uses its own subset

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use flate2::{write::GzEncoder, Compression};

pub const BIN: &str = env!("CARGO_BIN_EXE_lstm-mnist");
/// Image height of the test datasets.
pub const ROWS: usize = 6;
/// Image width of the test datasets.
pub const COLS: usize = 5;

/// An IDX file of unsigned bytes with the given dimensions.
pub fn idx(dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&(*d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
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

/// Writes the image and label files of split `stem` (`train` or `t10k`) with
/// `count` examples of all 10 classes, gzipped (`.gz` names) or raw.
pub fn write_split(dir: &Path, stem: &str, count: usize, gzipped: bool) {
    let labels: Vec<u8> = (0..count).map(|i| (i * 7 % 10) as u8).collect();
    let pixels: Vec<u8> = labels.iter().enumerate().flat_map(|(i, &l)| digit(l, i)).collect();
    let (images, labels) = (idx(&[count, ROWS, COLS], &pixels), idx(&[count], &labels));
    let (images, labels, ext) = if gzipped { (gzip(&images), gzip(&labels), ".gz") } else { (images, labels, "") };
    std::fs::write(dir.join(format!("{stem}-images-idx3-ubyte{ext}")), images).unwrap();
    std::fs::write(dir.join(format!("{stem}-labels-idx1-ubyte{ext}")), labels).unwrap();
}

/// Runs the binary with no `LD_LIBRARY_PATH` (it must find libtorch by rpath).
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env_remove("LD_LIBRARY_PATH").output().unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
