//! Embedding lstm-model in another binary: load a trained model with one
//! call and classify the images of an IDX file (or a PNG image).
//!
//! ```sh
//! cargo run --release -p lstm-model --example classify -- \
//!     runs/seed/model data/mnist-sample/t10k-images-idx3-ubyte.gz data/mnist-sample/t10k-labels-idx1-ubyte.gz
//! ```
//!
//! Arguments: the model folder, an IDX image file (gzipped or raw) or a PNG,
//! and optionally the IDX label file that goes with the images, to print the
//! accuracy. The IDX reader here is deliberately tiny: this example depends on
//! lstm-model only (plus flate2 and image for file formats), not on the
//! project's data crate.

use std::io::Read;
use std::process::ExitCode;

use lstm_model::{images_from_bytes, LstmClassifier};
use tch::Device;

/// Reads an IDX file of unsigned bytes, gunzipping it if needed: its dimensions and data.
fn read_idx(path: &str) -> Result<(Vec<usize>, Vec<u8>), String> {
    let raw = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice()).read_to_end(&mut out).map_err(|e| format!("{path}: {e}"))?;
        out
    } else {
        raw
    };
    if bytes.len() < 4 || bytes[..3] != [0, 0, 8] {
        return Err(format!("{path}: not an IDX file of unsigned bytes"));
    }
    let ndim = usize::from(bytes[3]);
    let header = 4 + 4 * ndim;
    if bytes.len() < header {
        return Err(format!("{path}: truncated IDX header"));
    }
    let dims: Vec<usize> =
        bytes[4..header].chunks(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize).collect();
    if bytes.len() - header != dims.iter().product::<usize>() {
        return Err(format!("{path}: the data does not have the size {dims:?} the header declares"));
    }
    Ok((dims, bytes[header..].to_vec()))
}

/// The images of `path` as `height × width` bytes each: a PNG becomes one
/// grayscale image resized to the model's input; an IDX file must already
/// have the model's image size.
fn read_images(path: &str, height: i64, width: i64) -> Result<Vec<u8>, String> {
    if path.to_ascii_lowercase().ends_with(".png") {
        let image = image::open(path).map_err(|e| format!("{path}: {e}"))?.to_luma8();
        let (w, h) = (width as u32, height as u32);
        let image = if image.width() >= w && image.height() >= h {
            image::imageops::thumbnail(&image, w, h) // box averaging when shrinking
        } else {
            image::imageops::resize(&image, w, h, image::imageops::FilterType::Triangle)
        };
        return Ok(image.into_raw());
    }
    let (dims, pixels) = read_idx(path)?;
    if dims.len() != 3 || (dims[1] as i64, dims[2] as i64) != (height, width) {
        return Err(format!("{path}: images of shape {dims:?}, but the model reads {height}x{width} images"));
    }
    Ok(pixels)
}

fn run(args: &[String]) -> Result<(), String> {
    let [model_dir, images_path, rest @ ..] = args else {
        return Err("usage: classify MODEL_DIR IMAGES.idx|IMAGE.png [LABELS.idx]".into());
    };
    // One call: the folder says what the model is.
    let model = LstmClassifier::load(model_dir, Device::Cpu).map_err(|e| e.to_string())?;
    let spec = model.spec();
    let pixels = read_images(images_path, spec.image_height, spec.image_width)?;
    let images = images_from_bytes(&pixels, spec.image_height, spec.image_width).map_err(|e| e.to_string())?;
    let predictions = model.predict(&images).map_err(|e| e.to_string())?;
    for (i, p) in predictions.iter().enumerate().take(10) {
        println!("{images_path}[{i}]: {} ({:.4})", p.name, p.probability);
    }
    if predictions.len() > 10 {
        println!("... {} images in all", predictions.len());
    }
    if let Some(labels_path) = rest.first() {
        let (_, labels) = read_idx(labels_path)?;
        if labels.len() != predictions.len() {
            return Err(format!("{labels_path}: {} labels for {} images", labels.len(), predictions.len()));
        }
        let correct = predictions.iter().zip(&labels).filter(|(p, &l)| p.class == usize::from(l)).count();
        println!("accuracy: {:.4} ({correct} of {})", correct as f64 / labels.len() as f64, labels.len());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
