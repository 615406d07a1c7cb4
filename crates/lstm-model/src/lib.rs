//! Builds, runs, saves and loads LSTM and GRU sequence classifiers of images,
//! on libtorch through `tch`.
//!
//! An image of `height × width` pixels becomes a sequence — one step per row
//! (the classic TensorFlow MNIST notebook: 28 steps of 28 pixels), one step per
//! pixel, or one step per pixel in a fixed permuted order — a stack of
//! recurrent layers runs over it, and a linear readout of the last step's (or
//! the mean) output gives one logit per class. A saved model is a folder that
//! describes itself: [`LstmClassifier::load`] rebuilds it without knowing any
//! hyperparameter.
//!
//! ```no_run
//! use lstm_model::{LstmClassifier, ModelConfig, ModelSpec};
//! use tch::{Device, Kind, Tensor};
//!
//! let spec = ModelSpec::new(ModelConfig::default(), 28, 28, (0..10).map(|d| d.to_string()).collect());
//! let model = LstmClassifier::new(spec, Device::Cpu)?;
//! let images = Tensor::rand([4, 28, 28], (Kind::Float, Device::Cpu));
//! let logits = model.forward(&images)?;
//! assert_eq!(logits.size(), [4, 10]);
//! model.save("runs/example/model")?;
//! let again = LstmClassifier::load("runs/example/model", Device::Cpu)?;
//! for p in again.predict(&images)? {
//!     println!("class {} ({}) with probability {:.3}", p.class, p.name, p.probability);
//! }
//! # Ok::<(), lstm_model::ModelError>(())
//! ```
//!
//! # Sequences of different lengths
//!
//! [`LstmClassifier::forward_sequences_t`] takes sequences `[N, T, features]`
//! directly, with optional lengths `[N]`: each sequence is read only up to its
//! real length (packed, as PyTorch's `pack_padded_sequence`), the readout
//! takes its last real step or the mean of its real steps, and a
//! bidirectional model's backward direction starts at its real end. A
//! sequence's logits are the same alone or in a padded batch.
//!
//! # Using lstm-model from a crate outside the workspace
//!
//! `examples/embed-outside` of the repository is such a crate, built by
//! `make test` exactly as below. Three files besides your code:
//!
//! ```toml
//! # Cargo.toml
//! [dependencies]
//! lstm-model = { path = "/path/to/lstm-mnist/crates/lstm-model" }
//! [build-dependencies]
//! torch-build = { path = "/path/to/lstm-mnist/crates/torch-build" }
//! ```
//!
//! ```text
//! // build.rs: an rpath to libtorch, so the binary runs without LD_LIBRARY_PATH
//! fn main() {
//!     torch_build::link_libtorch();
//! }
//! ```
//!
//! and `.cargo/config.toml`, which tells `torch-sys` where libtorch is, as
//! printed by `lstm-mnist env --cargo-config` (on a machine where the
//! project's `make setup` ran):
//!
//! ```toml
//! [env]
//! LIBTORCH = "/home/you/.cache/lstm-mnist/venv/lib/python3.11/site-packages/torch"
//! # LSTM_MNIST_CPU_ONLY = "1"   # link no CUDA library
//! ```
//!
//! Then plain `cargo build --release` works, with no environment script.
//! Use `tch` through this crate's re-export, [`tch`] (`use lstm_model::tch;`):
//! a second `tch` of another version cannot link (both claim `links = "tch"`).
//! For a binary that links no CUDA library, enable the feature `cpu-only` of
//! `lstm-model` (or `torch-build`), or set `LSTM_MNIST_CPU_ONLY = "1"` there.
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

mod error;
pub mod fuzz;
mod header;
mod masked;
mod points;
mod precision;
mod spec;
mod steps;
mod stream;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};
use serde::Serialize;
use tch::{nn, Device, Kind, Tensor};

pub use error::{ModelError, Result};
pub use points::group_points;
pub use precision::{fast_bf16, AutoChoice, Precision, Workload};
pub use spec::{
    is_printable_name, Cell, Init, ModelConfig, ModelSpec, Readout, Sequence, FORMAT_VERSION, MAX_CLASSES,
    MAX_CLASS_NAME_BYTES, MAX_IMAGE_PIXELS, MAX_PARAMETERS, MAX_POINTS_PER_STEP,
};
pub use steps::decided_at;
pub use stream::StepState;
/// The `tch` this crate is built on, so that dependents use the same version
/// (a second `tch` fails to link: both claim `links = "tch"`).
pub use tch;

/// File name of the weights inside a saved-model folder.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// File name of the model description inside a saved-model folder.
pub const SPEC_FILE: &str = "model.json";

/// A recurrent network over image sequences followed by a linear readout.
///
/// Parameters are named as PyTorch names those of an `nn.LSTM` (or `nn.GRU`)
/// held in attribute `lstm` (or `gru`) and an `nn.Linear` in attribute `out`:
/// `lstm.weight_ih_l0`, `lstm.weight_hh_l0`, `lstm.bias_ih_l0`,
/// `lstm.bias_hh_l0`, then `_l1`, ... for stacked layers and the `_reverse`
/// twins for the backward direction, then `out.weight`, `out.bias`. The
/// weights therefore load into such a PyTorch module with `load_state_dict`
/// and back, giving the same logits (see `scripts/golden_model.py`).
#[derive(Debug)]
pub struct LstmClassifier {
    vs: nn::VarStore,
    spec: ModelSpec,
    /// Per layer and direction `[w_ih, w_hh, b_ih, b_hh]`, the flat layout
    /// `at::lstm` and `at::gru` take.
    rnn: Vec<Tensor>,
    out_w: Tensor,
    out_b: Tensor,
    /// Step order of `"permuted-pixels"`, on the model's device.
    permutation: Option<Tensor>,
}

/// The class a model gives one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// Index of the most probable class.
    pub class: usize,
    /// Its name, from the model's class names.
    pub name: String,
    /// Its probability.
    pub probability: f32,
    /// The softmax probability of every class, in class order.
    pub probabilities: Vec<f32>,
}

/// The fixed step order of `"permuted-pixels"` for `n` pixels: a Fisher–Yates
/// shuffle of `0..n` driven by a ChaCha8 stream seeded with `seed` (each swap
/// index is `(next_u64 × (i + 1)) >> 64`), so that it is the same on every
/// machine and can be reproduced outside this crate. Step `t` of the sequence
/// reads pixel `permutation[t]` of the row-major image.
pub fn pixel_permutation(seed: u64, n: usize) -> Vec<i64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut order: Vec<i64> = (0..n as i64).collect();
    for i in (1..n).rev() {
        let j = ((u128::from(rng.next_u64()) * (i as u128 + 1)) >> 64) as usize;
        order.swap(i, j);
    }
    order
}

/// Turns `count × height × width` pixel bytes (row-major, 0 = black) into the
/// model's input: `f32` images `[count, height, width]` scaled to `[0, 1]`.
pub fn images_from_bytes(pixels: &[u8], height: i64, width: i64) -> Result<Tensor> {
    let per_image = (height.max(0) * width.max(0)) as usize;
    if pixels.len().checked_rem(per_image) != Some(0) || per_image == 0 {
        return Err(ModelError::BadPixels { len: pixels.len(), height, width });
    }
    let count = (pixels.len() / per_image) as i64;
    Ok(Tensor::f_from_slice(pixels)?.f_reshape([count, height, width])?.f_to_kind(Kind::Float)? / 255.0)
}

impl LstmClassifier {
    /// Builds a freshly initialised model on `device`.
    ///
    /// Initialisation is reproducible and thread-safe: values are drawn from
    /// a ChaCha generator seeded with `spec.config.seed`, not from libtorch's
    /// global generator, so the same spec gives the same model everywhere.
    pub fn new(spec: ModelSpec, device: Device) -> Result<Self> {
        spec.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(spec.config.seed);
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let c = &spec.config;
        let (h, classes, gates, dirs) = (c.hidden, spec.classes(), c.cell.gates(), c.directions());
        let mut var = |path: &nn::Path, name: &str, shape: &[i64], draw: Draw| -> Result<Tensor> {
            let value = draw.sample(shape, &mut rng)?;
            Ok(path.f_var_copy(name, &value.f_to_device(device)?)?)
        };
        let r = root.sub(c.cell.name());
        let mut rnn = Vec::with_capacity((4 * c.layers * dirs) as usize);
        for layer in 0..c.layers {
            let input = if layer == 0 { spec.features } else { h * dirs };
            let (kernel, bias) = match c.init {
                // BasicLSTMCell: one Glorot-uniform kernel over
                // [input + hidden, gates * hidden], zero biases.
                Init::Tensorflow => (Draw::Uniform((6.0 / ((input + h) + gates * h) as f64).sqrt()), Draw::Zeros),
                // nn.LSTM / nn.GRU: U(-1/sqrt(hidden), 1/sqrt(hidden)) everywhere.
                Init::Pytorch => {
                    let u = Draw::Uniform(1.0 / (h as f64).sqrt());
                    (u, u)
                }
            };
            for suffix in ["", "_reverse"].into_iter().take(dirs as usize) {
                rnn.push(var(&r, &format!("weight_ih_l{layer}{suffix}"), &[gates * h, input], kernel)?);
                rnn.push(var(&r, &format!("weight_hh_l{layer}{suffix}"), &[gates * h, h], kernel)?);
                rnn.push(var(&r, &format!("bias_ih_l{layer}{suffix}"), &[gates * h], bias)?);
                rnn.push(var(&r, &format!("bias_hh_l{layer}{suffix}"), &[gates * h], bias)?);
            }
        }
        // PyTorch's LSTM gate order is input, forget, cell, output: the forget
        // gate's bias is the second quarter of each b_ih.
        if c.cell == Cell::Lstm && c.forget_bias != 0.0 {
            for b_ih in rnn.iter().skip(2).step_by(4) {
                tch::no_grad(|| b_ih.f_narrow(0, h, h)?.f_add_scalar_(c.forget_bias).map(|_| ()))?;
            }
        }
        // The readout: the notebook's N(0, 1), or nn.Linear's Kaiming-uniform
        // weight and bias with fan-in `hidden * directions`.
        let readout = match c.init {
            Init::Tensorflow => Draw::Normal(1.0),
            Init::Pytorch => Draw::Uniform(1.0 / ((h * dirs) as f64).sqrt()),
        };
        let o = root.sub("out");
        let out_w = var(&o, "weight", &[classes, h * dirs], readout)?;
        let out_b = var(&o, "bias", &[classes], readout)?;
        let permutation = match c.sequence {
            Sequence::PermutedPixels => {
                let order = pixel_permutation(c.permutation_seed, spec.steps as usize);
                Some(Tensor::f_from_slice(&order)?.f_to_device(device)?)
            }
            Sequence::Rows | Sequence::Pixels => None,
        };
        Ok(Self { vs, spec, rnn, out_w, out_b, permutation })
    }

    /// What the model is: configuration, input layout and classes.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The variables, for an optimiser or for inspection.
    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    /// The device the model lives on.
    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// The sequences `[N, steps, features]` the recurrent layers read for
    /// images `[N, image_height, image_width]`; for a series model (input
    /// `sequence` in `model.json`), for raw sequences `[N, T, F]` of any `T`,
    /// grouped `points_per_step` points per step ([`group_points`]).
    pub fn sequences(&self, images: &Tensor) -> Result<Tensor> {
        if let Some((x, _)) = self.series_input(images, None)? {
            return Ok(x);
        }
        let s = &self.spec;
        let size = images.size();
        if size.len() != 3 || size[1] != s.image_height || size[2] != s.image_width {
            return Err(ModelError::BadInput { got: size, height: s.image_height, width: s.image_width });
        }
        let flat = || images.f_reshape([size[0], s.steps, s.features]);
        Ok(match (&self.permutation, s.config.sequence) {
            (Some(order), _) => flat()?.f_index_select(1, order)?,
            (None, Sequence::Rows) => images.shallow_clone(),
            (None, _) => flat()?,
        })
    }

    /// Logits `[N, classes]` for images `[N, image_height, image_width]`
    /// (`f32` in `[0, 1]`, on the model's device).
    ///
    /// `train` switches on the training-only behaviour (dropout between
    /// stacked layers and before the readout); with `train = false` the
    /// result is deterministic.
    pub fn forward_t(&self, images: &Tensor, train: bool) -> Result<Tensor> {
        self.forward_t_with(images, train, Kind::Float)
    }

    /// [`forward_t`](Self::forward_t) with the recurrent layers computed in
    /// `compute` precision (`Kind::Float`, `Kind::BFloat16` or `Kind::Half`).
    ///
    /// Mixed precision with `f32` master weights: the input and the recurrent
    /// weights are cast to `compute` inside the graph (so gradients flow back
    /// to the `f32` variables through the casts, as autocast does), the
    /// recurrent layers run in `compute`, and their output is cast back to
    /// `f32` for the readout, so the logits are always `f32`. With
    /// `Kind::Float` this is exactly `forward_t`. Whether a kind is fast (or
    /// supported at all) depends on the device: libtorch's CPU LSTM runs in
    /// bf16 through a slow generic path unless oneDNN has a bf16 LSTM for the
    /// CPU (AVX-512 BF16); fp16 is meant for CUDA.
    pub fn forward_t_with(&self, images: &Tensor, train: bool, compute: Kind) -> Result<Tensor> {
        self.forward_sequences_t(&self.sequences(images)?, None, train, compute)
    }

    /// The top layer's output `[N, steps, hidden × directions]` (`f32`) for
    /// sequences `x` `[N, steps, features]`, computed in `compute` precision.
    fn recurrent_output(&self, x: &Tensor, train: bool, compute: Kind) -> Result<Tensor> {
        let c = &self.spec.config;
        let state = Tensor::f_zeros([c.layers * c.directions(), x.size()[0], c.hidden], (compute, x.device()))?;
        let (x, params) = self.in_precision(x, compute)?;
        let params: Vec<&Tensor> = params.iter().collect();
        let output = match c.cell {
            Cell::Lstm => {
                x.f_lstm(&[&state, &state], &params, true, c.layers, c.dropout, train, c.bidirectional, true)?.0
            }
            Cell::Gru => x.f_gru(&state, &params, true, c.layers, c.dropout, train, c.bidirectional, true)?.0,
        };
        Ok(output.f_to_kind(Kind::Float)?)
    }

    /// Logits in evaluation mode, without recording gradients.
    pub fn forward(&self, images: &Tensor) -> Result<Tensor> {
        self.forward_with(images, Kind::Float)
    }

    /// [`forward`](Self::forward) with the recurrent layers computed in
    /// `compute` precision (see [`forward_t_with`](Self::forward_t_with)); `f32` logits.
    pub fn forward_with(&self, images: &Tensor, compute: Kind) -> Result<Tensor> {
        tch::no_grad(|| self.forward_t_with(images, false, compute))
    }

    /// The most probable class of each image `[N, image_height, image_width]`,
    /// with every class's probability (evaluation mode).
    ///
    /// ```no_run
    /// # use lstm_model::LstmClassifier;
    /// let model = LstmClassifier::load("runs/seed/model", tch::Device::Cpu)?;
    /// let images = lstm_model::images_from_bytes(&[0u8; 2 * 28 * 28], 28, 28)?;
    /// let predictions = model.predict(&images)?;
    /// assert_eq!(predictions.len(), 2);
    /// println!("{} with probability {}", predictions[0].name, predictions[0].probability);
    /// # Ok::<(), lstm_model::ModelError>(())
    /// ```
    pub fn predict(&self, images: &Tensor) -> Result<Vec<Prediction>> {
        self.predict_with(images, Kind::Float)
    }

    /// [`predict`](Self::predict) with the recurrent layers computed in `compute` precision.
    pub fn predict_with(&self, images: &Tensor, compute: Kind) -> Result<Vec<Prediction>> {
        let probs = self.forward_with(images, compute)?.f_softmax(-1, Kind::Float)?.f_to_device(Device::Cpu)?;
        let flat = Vec::<f32>::try_from(probs.f_flatten(0, -1)?)?;
        let classes = self.spec.class_names.len();
        Ok(flat
            .chunks(classes)
            .map(|p| {
                let (class, &probability) =
                    p.iter().enumerate().fold((0, &p[0]), |best, cur| if cur.1 > best.1 { cur } else { best });
                Prediction { class, name: self.spec.class_names[class].clone(), probability, probabilities: p.to_vec() }
            })
            .collect())
    }

    /// Saves the model into folder `dir` (created if needed): the weights in
    /// safetensors ([`WEIGHTS_FILE`]) and the description ([`SPEC_FILE`]).
    /// Each file is written to a temporary name first and then renamed, so a
    /// crash never leaves a half-written file under the real name.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| ModelError::Io { path: dir.to_owned(), source })?;
        let weights = dir.join(WEIGHTS_FILE);
        let io = |path: PathBuf| move |source| ModelError::Io { path: path.clone(), source };
        // The temporary name keeps the extension, which selects the format.
        // An I/O error (a full disk, ...) reads plainly with the file's path, not as libtorch's debug text.
        let save = |tmp: &Path| match self.vs.save(tmp) {
            Err(tch::TchError::SafeTensorError { err: safetensors::SafeTensorError::IoError(source), .. }) => {
                Err(ModelError::Io { path: weights.clone(), source })
            }
            saved => Ok(saved?),
        };
        atomic_file::write_via(&weights, save, io(weights.clone()))?;
        let json = serde_json::to_vec_pretty(&self.spec)
            .map_err(|source| ModelError::BadSpec { path: dir.join(SPEC_FILE), source })?;
        let spec = dir.join(SPEC_FILE);
        atomic_file::write(&spec, json).map_err(io(spec.clone()))
    }

    /// Loads a model saved by [`LstmClassifier::save`] onto `device`; the
    /// description next to the weights says how to rebuild it.
    ///
    /// Nothing is allocated before the weights file's header has been read
    /// and every tensor's name, type and shape checked against the
    /// description, so a description claiming a huge model next to a small
    /// weights file is an error, not an allocation of gigabytes. Weights
    /// holding NaN or infinite values are refused.
    pub fn load(dir: impl AsRef<Path>, device: Device) -> Result<Self> {
        let dir = dir.as_ref();
        let spec = ModelSpec::read(&dir.join(SPEC_FILE))?;
        let weights = dir.join(WEIGHTS_FILE);
        header::check(&weights, &header::read(&weights)?, &spec.parameter_shapes())?;
        let model = Self::new(spec, device)?;
        model.load_weights(&weights)?;
        Ok(model)
    }

    /// Replaces every parameter with the tensor of the same name in a
    /// safetensors file, which must hold exactly this model's parameters
    /// (checked from the file's header before any tensor is read), all finite.
    pub fn load_weights(&self, path: &Path) -> Result<()> {
        header::check(path, &header::read(path)?, &self.spec.parameter_shapes())?;
        let tensors = Tensor::read_safetensors(path)
            .map_err(|e| ModelError::BadWeights { path: path.to_owned(), detail: first_line(&e.to_string()) })?;
        let file: BTreeMap<String, Tensor> = tensors.into_iter().collect();
        for (name, src) in &file {
            if !bool::try_from(src.f_isfinite()?.f_all()?)? {
                return Err(ModelError::NonFiniteWeights { path: path.to_owned(), name: name.clone() });
            }
        }
        let vars = self.vs.variables();
        for (name, dst) in &vars {
            let src = file.get(name).ok_or_else(|| ModelError::WeightsMismatch {
                path: path.to_owned(),
                detail: format!("tensor `{name}` is missing"),
            })?;
            tch::no_grad(|| dst.shallow_clone().f_copy_(src))?;
        }
        Ok(())
    }
}

/// The first line of a message: libtorch appends C++ stack frames to its
/// errors, which say nothing to a user.
pub(crate) fn first_line(message: &str) -> String {
    config_error::first_line(&message).trim_end().to_owned()
}

/// How one parameter tensor is initialised.
#[derive(Debug, Clone, Copy)]
enum Draw {
    /// All zeros.
    Zeros,
    /// Uniform on `[-bound, bound)`.
    Uniform(f64),
    /// Normal with mean 0 and this standard deviation.
    Normal(f64),
}

impl Draw {
    fn sample(self, shape: &[i64], rng: &mut ChaCha8Rng) -> Result<Tensor> {
        let n = shape.iter().product::<i64>() as usize;
        let values: Vec<f32> = match self {
            Draw::Zeros => vec![0.0; n],
            Draw::Uniform(bound) => {
                let dist = Uniform::new(-bound as f32, bound as f32).map_err(|e| invalid_draw(e.to_string()))?;
                dist.sample_iter(&mut *rng).take(n).collect()
            }
            Draw::Normal(std) => {
                let dist = Normal::new(0.0f32, std as f32).map_err(|e| invalid_draw(e.to_string()))?;
                dist.sample_iter(&mut *rng).take(n).collect()
            }
        };
        Ok(Tensor::f_from_slice(&values)?.f_reshape(shape)?)
    }
}

fn invalid_draw(detail: String) -> ModelError {
    ModelError::invalid_config("model.init", detail, "the initialisation bounds must be finite")
}

#[cfg(test)]
mod tests;
