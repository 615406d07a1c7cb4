//! `embed-outside MODEL_DIR IMAGES LABELS`: loads a model saved by lstm-mnist
//! (a run folder or its `model/` folder), classifies the images of an IDX file
//! (gzipped or raw) and prints the accuracy against the IDX label file.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use lstm_model::tch::Device;
use lstm_model::{images_from_bytes, LstmClassifier};

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
    // A run folder holds the model in model/; a model folder holds model.json.
    let dir = Path::new(model_dir);
    let dir = if dir.join("model").join("model.json").is_file() { dir.join("model") } else { dir.to_owned() };
    let model = LstmClassifier::load(&dir, Device::Cpu).map_err(|e| e.to_string())?;
    let (h, w) = (model.spec().image_height, model.spec().image_width);
    let (dims, pixels) = read_idx(images_path)?;
    if dims.len() != 3 || (dims[1] as i64, dims[2] as i64) != (h, w) {
        return Err(format!("{images_path}: images of shape {dims:?}, but the model reads {h}x{w} images"));
    }
    let (_, labels) = read_idx(labels_path)?;
    if labels.len() != dims[0] {
        return Err(format!("{labels_path}: {} labels for {} images", labels.len(), dims[0]));
    }
    let images = images_from_bytes(&pixels, h, w).map_err(|e| e.to_string())?;
    let predictions = model.predict(&images).map_err(|e| e.to_string())?;
    let correct = predictions.iter().zip(&labels).filter(|(p, &l)| p.class == usize::from(l)).count();
    println!("accuracy: {:.4} ({correct} of {})", correct as f64 / labels.len() as f64, labels.len());
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
