//! Runs a model exported by `lstm-mnist export` with tract (pure Rust, no libtorch):
//! `onnx-tract MODEL.onnx IMAGES.idx.gz LABELS.idx.gz` prints the accuracy.
use std::io::Read;

use tract_onnx::prelude::*;

fn idx(path: &str) -> TractResult<(Vec<usize>, Vec<u8>)> {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path)?).read_to_end(&mut bytes)?;
    let n = bytes[3] as usize;
    let dims = bytes[4..4 + 4 * n].chunks(4).map(|b| u32::from_be_bytes(b.try_into().unwrap()) as usize).collect();
    Ok((dims, bytes[4 + 4 * n..].to_vec()))
}

fn main() -> TractResult<()> {
    let args: Vec<String> = std::env::args().collect();
    let ((dims, pixels), (_, labels)) = (idx(&args[2])?, idx(&args[3])?);
    let (n, h, w) = (dims[0], dims[1], dims[2]);
    let model = tract_onnx::onnx()
        .model_for_path(&args[1])?
        .with_input_fact(0, f32::fact([n, h, w]).into())?
        .into_optimized()?
        .into_runnable()?;
    let images = tract_ndarray::Array3::from_shape_fn((n, h, w), |(i, r, c)| pixels[(i * h + r) * w + c] as f32 / 255.0);
    let logits = model.run(tvec!(Tensor::from(images).into()))?.remove(0);
    let logits = logits.to_array_view::<f32>()?;
    let correct = logits
        .outer_iter()
        .zip(&labels)
        .filter(|(row, &label)| {
            let best = row.iter().enumerate().fold((0, f32::MIN), |b, (k, &v)| if v > b.1 { (k, v) } else { b });
            best.0 == label as usize
        })
        .count();
    println!("accuracy: {:.4} ({correct} of {n})", correct as f64 / n as f64);
    Ok(())
}
