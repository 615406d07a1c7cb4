//! The notebook's LSTM sequence classifier, on libtorch through `tch`.
//!
//! An image of `rows × cols` pixels is read as `rows` time steps of `cols`
//! features; an LSTM runs over the steps and the output of the last step goes
//! through a linear readout to one logit per class — the classic TensorFlow
//! MNIST LSTM notebook, as a library type that any binary can build, run, save
//! and load.
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
//! # Ok::<(), lstm_model::ModelError>(())
//! ```

mod error;
mod spec;

use std::collections::BTreeMap;
use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};
use tch::{nn, Device, Kind, Tensor};

pub use error::{ModelError, Result};
pub use spec::{Init, ModelConfig, ModelSpec, FORMAT_VERSION};

/// File name of the weights inside a saved-model folder.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// File name of the model description inside a saved-model folder.
pub const SPEC_FILE: &str = "model.json";

/// An LSTM over image rows followed by a linear readout of the last step.
///
/// Parameters are named as PyTorch names those of `nn.LSTM` and `nn.Linear`
/// held in attributes `lstm` and `out`: `lstm.weight_ih_l0`, `lstm.weight_hh_l0`,
/// `lstm.bias_ih_l0`, `lstm.bias_hh_l0`, `out.weight`, `out.bias`.
#[derive(Debug)]
pub struct LstmClassifier {
    vs: nn::VarStore,
    spec: ModelSpec,
    /// `[w_ih, w_hh, b_ih, b_hh]`, the layout `at::lstm` takes.
    lstm: Vec<Tensor>,
    out_w: Tensor,
    out_b: Tensor,
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
        let (h, input, classes) = (spec.config.hidden, spec.features, spec.classes());
        let (lstm_init, bias_init, out_w_init, out_b_init) = match spec.config.init {
            Init::Tensorflow => {
                // BasicLSTMCell: one Glorot-uniform kernel over [input + hidden, 4 * hidden],
                // zero biases; the notebook's readout is drawn from N(0, 1).
                let limit = (6.0 / ((input + h) + 4 * h) as f64).sqrt();
                let uniform = Draw::Uniform(limit);
                (uniform, Draw::Zeros, Draw::Normal(1.0), Draw::Normal(1.0))
            }
            // nn.LSTM: U(-1/sqrt(hidden), 1/sqrt(hidden)) everywhere; nn.Linear with
            // fan-in `hidden`: Kaiming-uniform weight and bias, the same bound.
            Init::Pytorch => {
                let uniform = Draw::Uniform(1.0 / (h as f64).sqrt());
                (uniform, uniform, uniform, uniform)
            }
        };
        let mut var = |path: &nn::Path, name: &str, shape: &[i64], draw: Draw| -> Result<Tensor> {
            let value = draw.sample(shape, &mut rng)?;
            Ok(path.f_var_copy(name, &value.f_to_device(device)?)?)
        };
        let l = root.sub("lstm");
        let lstm = vec![
            var(&l, "weight_ih_l0", &[4 * h, input], lstm_init)?,
            var(&l, "weight_hh_l0", &[4 * h, h], lstm_init)?,
            var(&l, "bias_ih_l0", &[4 * h], bias_init)?,
            var(&l, "bias_hh_l0", &[4 * h], bias_init)?,
        ];
        // PyTorch's gate order is input, forget, cell, output: the forget gate's
        // bias is the second quarter.
        if spec.config.forget_bias != 0.0 {
            tch::no_grad(|| lstm[2].f_narrow(0, h, h)?.f_add_scalar_(spec.config.forget_bias).map(|_| ()))?;
        }
        let o = root.sub("out");
        let out_w = var(&o, "weight", &[classes, h], out_w_init)?;
        let out_b = var(&o, "bias", &[classes], out_b_init)?;
        Ok(Self { vs, spec, lstm, out_w, out_b })
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

    /// Logits `[N, classes]` for images `[N, rows, cols]` (`f32`, on the model's device).
    ///
    /// `train` switches on the training-only behaviour of layers (dropout).
    pub fn forward_t(&self, images: &Tensor, train: bool) -> Result<Tensor> {
        let size = images.size();
        if size.len() != 3 || size[1] != self.spec.steps || size[2] != self.spec.features {
            return Err(ModelError::BadInput { got: size, steps: self.spec.steps, features: self.spec.features });
        }
        let state = Tensor::f_zeros([1, size[0], self.spec.config.hidden], (Kind::Float, images.device()))?;
        let (output, _, _) = images.f_lstm(&[&state, &state], &self.lstm.iter().collect::<Vec<_>>(), true, 1, 0.0, train, false, true)?;
        let last = output.f_select(1, -1)?;
        Ok(last.f_linear(&self.out_w, Some(&self.out_b))?)
    }

    /// Logits in evaluation mode, without recording gradients.
    pub fn forward(&self, images: &Tensor) -> Result<Tensor> {
        tch::no_grad(|| self.forward_t(images, false))
    }

    /// Saves the model into folder `dir` (created if needed): the weights in
    /// safetensors ([`WEIGHTS_FILE`]) and the description ([`SPEC_FILE`]).
    /// Each file is written to a temporary name first and then renamed, so a
    /// crash never leaves a half-written file under the real name.
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| ModelError::Io { path: dir.to_owned(), source })?;
        let weights = dir.join(WEIGHTS_FILE);
        // The extension selects the format, so the temporary name keeps it.
        let tmp = dir.join(format!(".tmp.{WEIGHTS_FILE}"));
        self.vs.save(&tmp)?;
        rename(&tmp, &weights)?;
        let json = serde_json::to_vec_pretty(&self.spec)
            .map_err(|source| ModelError::BadSpec { path: dir.join(SPEC_FILE), source })?;
        write_atomic(&dir.join(SPEC_FILE), &json)
    }

    /// Loads a model saved by [`LstmClassifier::save`] onto `device`; the
    /// description next to the weights says how to rebuild it.
    pub fn load(dir: impl AsRef<Path>, device: Device) -> Result<Self> {
        let dir = dir.as_ref();
        let spec = ModelSpec::read(&dir.join(SPEC_FILE))?;
        let model = Self::new(spec, device)?;
        model.load_weights(&dir.join(WEIGHTS_FILE))?;
        Ok(model)
    }

    /// Replaces every parameter with the tensor of the same name in a
    /// safetensors file, which must hold exactly this model's parameters.
    pub fn load_weights(&self, path: &Path) -> Result<()> {
        if !path.is_file() {
            return Err(ModelError::Io {
                path: path.to_owned(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "weights file not found"),
            });
        }
        let mismatch = |detail: String| ModelError::WeightsMismatch { path: path.to_owned(), detail };
        let mut file: BTreeMap<String, Tensor> = Tensor::read_safetensors(path)?.into_iter().collect();
        let vars = self.vs.variables();
        let mut names: Vec<&String> = vars.keys().collect();
        names.sort();
        for name in names {
            let src = file.remove(name).ok_or_else(|| mismatch(format!("tensor `{name}` is missing")))?;
            let dst = &vars[name];
            if src.size() != dst.size() {
                return Err(mismatch(format!("tensor `{name}` has shape {:?}, expected {:?}", src.size(), dst.size())));
            }
            tch::no_grad(|| dst.shallow_clone().f_copy_(&src))?;
        }
        if let Some(extra) = file.keys().next() {
            return Err(mismatch(format!("unexpected tensor `{extra}`")));
        }
        Ok(())
    }
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
    ModelError::InvalidConfig { key: "model.init", value: detail, hint: "the initialisation bounds must be finite" }
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    std::fs::rename(from, to).map_err(|source| ModelError::Io { path: to.to_owned(), source })
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(|source| ModelError::Io { path: tmp.clone(), source })?;
    rename(&tmp, path)
}

#[cfg(test)]
mod tests;
