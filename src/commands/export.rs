//! `lstm-mnist export`: a saved model as a standard ONNX file (crate
//! `lstm-onnx`), and `lstm-mnist env`: what an outside crate needs to build
//! against the same libtorch.

use std::path::{Path, PathBuf};

use lstm_model::{LstmClassifier, SPEC_FILE};
use lstm_onnx::ExportOptions;
use tch::Device;

use crate::config::{ConfigError, Experiment};
use crate::run_folder::{find_model_dir, RunFolder};
use crate::{io_error, Failure};

/// Arguments of `lstm-mnist export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// A run folder (its model/ is used) or a model folder (model.json + model.safetensors).
    #[arg(long, value_name = "RUN_DIR")]
    pub model: PathBuf,
    /// The file format.
    #[arg(long, value_enum, default_value = "onnx")]
    pub format: ExportFormat,
    /// The file to write, for example model.onnx.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

/// Arguments of `lstm-mnist env`.
#[derive(Debug, Clone, clap::Args)]
pub struct EnvArgs {
    /// Print a .cargo/config.toml (the [env] table giving torch-sys LIBTORCH) instead.
    #[arg(long)]
    pub cargo_config: bool,
}

/// `lstm-mnist export`: writes the model and logs what was written.
pub fn run(args: &ExportArgs) -> Result<(), Failure> {
    let exported = export(&args.model, args.format, &args.out)?;
    tracing::info!(
        model = %exported.model_dir.display(),
        out = %args.out.display(),
        bytes = exported.bytes,
        standardization = ?exported.standardization,
        "exported"
    );
    Ok(())
}

/// `lstm-mnist env`: the build's libtorch, or with `--cargo-config` a `.cargo/config.toml`.
pub fn run_env(args: &EnvArgs, out: &mut impl std::io::Write) -> Result<(), Failure> {
    let text = if args.cargo_config { cargo_config()? } else { describe() };
    out.write_all(text.as_bytes()).map_err(io_error(Path::new("<stdout>")))
}

/// The formats `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// ONNX (opset 17): input `images` float32 [N, H, W] = pixel / 255, output `logits`.
    Onnx,
}

/// Why `export` or `env` failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// `--model` names neither a model folder nor a run folder.
    #[error(
        "{}: no saved model here: pass --model a run folder (holding model/{SPEC_FILE}) or a model folder (holding {SPEC_FILE})",
        .0.display()
    )]
    NoModel(PathBuf),
    /// The model could not be loaded.
    #[error(transparent)]
    Model(#[from] lstm_model::ModelError),
    /// The ONNX file could not be built or written.
    #[error(transparent)]
    Onnx(#[from] lstm_onnx::OnnxError),
    /// The run's config.json could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The training data (needed for the standardisation statistics) could not be read.
    #[error("the run standardises its input (data.normalize = \"standardize\"), and its training data gives the statistics: {0}")]
    Data(#[from] crate::data::DataLoadError),
    /// This binary was built without a libtorch that has C++ headers.
    #[error(
        "{}: no libtorch C++ headers here (this binary was built against {}); \
         install PyTorch 2.13.0 (`make setup` in the lstm-mnist sources) and use the lstm-mnist built there",
        .include.display(), .libtorch.display()
    )]
    NoLibtorch { libtorch: PathBuf, include: PathBuf },
    /// `--out` names a file of a training run or a model folder.
    #[error(transparent)]
    Output(#[from] experiment::ExperimentError),
}

impl ExportError {
    /// Whether the command was called wrongly or its config is at fault (exit
    /// status 2) rather than failing on its inputs (1).
    pub fn is_config(&self) -> bool {
        match self {
            ExportError::NoModel(_) | ExportError::Config(_) => true,
            ExportError::Data(e) => e.is_config(),
            ExportError::Model(e) => e.is_config(),
            ExportError::Onnx(e) => e.is_config(),
            ExportError::NoLibtorch { .. } => false,
            ExportError::Output(e) => e.is_config(),
        }
    }
}

/// What `export` wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    /// The model folder read.
    pub model_dir: PathBuf,
    /// The standardisation built into the graph, if the run used one.
    pub standardization: Option<(f64, f64)>,
    /// Bytes written.
    pub bytes: u64,
}

/// Writes the model of `model` (a run or model folder) to `out` in `format`.
///
/// A run trained on standardised pixels (`data.normalize = "standardize"` in
/// its `config.json`) gets the training split's mean and standard deviation
/// built into the graph, recomputed from its data, so the exported input is
/// pixel / 255 like every other.
pub fn export(model: &Path, format: ExportFormat, out: &Path) -> Result<Exported, ExportError> {
    crate::run_folder::check_output_file(out, "export --out")?;
    let dir = find_model_dir(model).ok_or_else(|| ExportError::NoModel(model.to_owned()))?;
    let classifier = LstmClassifier::load(&dir, Device::Cpu)?;
    let standardization = run_standardization(&dir)?;
    match format {
        ExportFormat::Onnx => lstm_onnx::write(&classifier, &ExportOptions { standardization }, out)?,
    }
    let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    Ok(Exported { model_dir: dir, standardization, bytes })
}

/// The input standardisation `(mean, std)` of the run that holds model folder
/// `dir`, if it trained on standardised pixels (recomputed from its training
/// data, as the training did); `None` for other runs and bare model folders.
pub(crate) fn run_standardization(dir: &Path) -> Result<Option<(f64, f64)>, ExportError> {
    let Some(config) = dir.parent().map(|run| RunFolder::new(run).config()).filter(|c| c.is_file()) else {
        return Ok(None);
    };
    let experiment = Experiment::load(&config, &[])?;
    let section = serde_json::to_value(&experiment.data).unwrap_or_default();
    if section["normalize"] != "standardize" {
        return Ok(None);
    }
    let st = crate::data::load(&experiment.data)?.standardization;
    Ok(st.map(|st| (st.mean[0], st.std[0])))
}

/// The libtorch this binary was built against: the folder holding `include/`
/// and `lib/`, as `torch-sys` reads it from `LIBTORCH`.
pub fn libtorch_dir() -> PathBuf {
    let lib = PathBuf::from(option_env!("LSTM_MNIST_LIBTORCH_LIB").unwrap_or_default());
    lib.parent().map(Path::to_owned).unwrap_or_default()
}

/// The libtorch this process loaded (`libtorch_cpu.so`, as the dynamic loader
/// found it: a `make dist` folder's `lib/`, the rpath, or `LD_LIBRARY_PATH`),
/// else the folder it was built against.
pub fn loaded_libtorch() -> PathBuf {
    super::loaded::loaded_library("libtorch_cpu.so").unwrap_or_else(libtorch_dir)
}

/// Whether libtorch's CUDA library is loaded: no for a CPU-only build
/// (`LSTM_MNIST_CPU_ONLY=1`) and for the `make dist` binary.
pub fn cuda_library_loaded() -> bool {
    ["libtorch_cuda.so", "libtorch_hip.so"].into_iter().any(|lib| super::loaded::loaded_library(lib).is_some())
}

/// The `.cargo/config.toml` with which an outside crate depending on
/// `lstm-model` builds with plain `cargo build` against this libtorch.
pub fn cargo_config() -> Result<String, ExportError> {
    let libtorch = libtorch_dir();
    let include = libtorch.join("include/torch");
    if !include.is_dir() {
        return Err(ExportError::NoLibtorch { libtorch, include });
    }
    let quoted = serde_json::to_string(&libtorch.display().to_string()).unwrap_or_default();
    Ok(format!(
        "# .cargo/config.toml for a crate that depends on lstm-model, written by `lstm-mnist env --cargo-config`.\n\
         # torch-sys builds against the libtorch lstm-mnist was built with; the crate's build.rs\n\
         # (`torch_build::link_libtorch();`) gives its binaries an rpath to it.\n\
         [env]\n\
         LIBTORCH = {quoted}\n\
         # Link no CUDA library (CPU-only binaries), as `make dist` does:\n\
         # LSTM_MNIST_CPU_ONLY = \"1\"\n"
    ))
}

/// What `lstm-mnist env` prints: version, the libtorch loaded, build kind, devices.
pub fn describe() -> String {
    let cuda = tch::Cuda::device_count();
    format!(
        "lstm-mnist {}\nlibtorch: {}\nbuild: {}\ncuda devices: {cuda}\nthreads: {}\n",
        env!("CARGO_PKG_VERSION"),
        loaded_libtorch().display(),
        if cuda_library_loaded() { "CPU and CUDA" } else { "CPU-only (no libtorch CUDA library loaded)" },
        tch::get_num_threads(),
    )
}
