//! `embed-outside MODEL_DIR IMAGES LABELS`: loads a model saved by lstm-mnist
//! (a run folder or its `model/` folder, copied anywhere) with the `inference`
//! crate's `Predictor`, classifies the images of an IDX file (gzipped or raw)
//! prepared as the run prepared them (standardisation included, from
//! model.json) and prints the accuracy against the IDX label file.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use inference::Predictor;
use lstm_model::tch::Device;
use lstm_model::Precision;

/// An IDX file of unsigned bytes (gunzipped if needed): dimensions and data.
fn read_idx(path: &str) -> Result<(Vec<usize>, Vec<u8>), String> {
    let raw = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let mut bytes = Vec::new();
    if raw.starts_with(&[0x1f, 0x8b]) {
        flate2::read::MultiGzDecoder::new(raw.as_slice()).read_to_end(&mut bytes).map_err(|e| format!("{path}: {e}"))?;
    } else {
        bytes = raw;
    }
    if bytes.len() < 4 || bytes[..3] != [0, 0, 8] {
        return Err(format!("{path}: not an IDX file of unsigned bytes"));
    }
    let header = 4 + 4 * usize::from(bytes[3]);
    let dims: Vec<usize> = bytes
        .get(4..header)
        .ok_or(format!("{path}: truncated IDX header"))?
        .chunks(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    if bytes.len() - header != dims.iter().product::<usize>() {
        return Err(format!("{path}: the data does not have the size {dims:?} the header declares"));
    }
    Ok((dims, bytes.split_off(header)))
}

fn run(model_dir: &str, images_path: &str, labels_path: &str) -> Result<(), String> {
    // A run folder or its model/ folder: model.json says how the pictures are
    // prepared (size, invert policy, standardisation); nothing else is read.
    let predictor = Predictor::open(Path::new(model_dir), Device::Cpu, Precision::Fp32).map_err(|e| e.to_string())?;
    let (_, labels) = read_idx(labels_path)?;
    let mut images = predictor.images(Path::new(images_path), None).map_err(|e| e.to_string())?;
    let (mut seen, mut correct) = (0, 0);
    // A batch at a time: memory stays flat whatever the number of images.
    while let Some(batch) = images.next_batch(1000).map_err(|e| e.to_string())? {
        for prediction in predictor.classify_pixels(&batch.pixels).map_err(|e| e.to_string())? {
            let label = labels.get(seen).ok_or(format!("{labels_path}: fewer labels than images"))?;
            correct += usize::from(prediction.class == usize::from(*label));
            seen += 1;
        }
    }
    if seen != labels.len() {
        return Err(format!("{labels_path}: {} labels for {seen} images", labels.len()));
    }
    println!("accuracy: {:.4} ({correct} of {seen})", correct as f64 / seen as f64);
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, images, labels] = args.as_slice() else {
        eprintln!("usage: embed-outside MODEL_DIR IMAGES.idx[.gz] LABELS.idx[.gz]");
        return ExitCode::from(2);
    };
    match run(model, images, labels) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
