//! Exports an [`lstm_model::LstmClassifier`] as a standard ONNX model.
//!
//! The graph takes `images`, float32 `[N, H, W]` holding pixel / 255 (what
//! [`lstm_model::images_from_bytes`] gives), and returns `logits`, float32
//! `[N, classes]`. Everything the model does to an image is in the graph:
//!
//! * the optional input standardisation `(x - mean) / std` of a model trained
//!   on standardised data ([`ExportOptions::standardization`]);
//! * the sequence layout: rows (`Transpose` to `[H, N, W]`), pixels
//!   (`Reshape` to `[N, H·W, 1]`, `Transpose`), or permuted pixels (a `Gather`
//!   with the model's fixed permutation first);
//! * one standard ONNX `LSTM` or `GRU` node per layer, `direction` `forward`
//!   or `bidirectional`, with PyTorch's gate blocks reordered to ONNX's
//!   (LSTM: PyTorch i, f, g, o → ONNX i, o, f, c; GRU: r, z, n → z, r, h with
//!   `linear_before_reset = 1`, which is PyTorch's GRU);
//! * the readout: the last step's output (`Gather`) or the mean over steps
//!   (`ReduceMean`), then `Gemm` with the linear layer.
//!
//! A model of series (model.json input `sequence`, issues 21 and 25) takes
//! `sequences` float32 `[N, T, F]` (raw values, any `T`) and `lengths` int32
//! `[N]` (points per series) instead: its per-dimension standardisation and
//! its `points_per_step` grouping are in the graph, the lengths feed the
//! recurrent nodes' `sequence_lens`, and the readout takes each series' last
//! real step or the mean over its real steps.
//!
//! The class names are in the model's metadata (`class_names`, a JSON array),
//! next to the input size and layout. Opset 17, IR version 8: ONNX Runtime,
//! `tract-onnx` and `onnx.checker` read it.
//!
//! ```no_run
//! let model = lstm_model::LstmClassifier::load("runs/seed/model", tch::Device::Cpu)?;
//! lstm_onnx::write(&model, &lstm_onnx::ExportOptions::default(), "model.onnx".as_ref())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(not(test), warn(clippy::too_many_lines))] // functions <= 80 lines (clippy.toml), tests exempt

#[allow(clippy::all, missing_docs)]
#[rustfmt::skip]
pub mod onnx;
mod series;

pub use series::{sequence_input, LENGTHS, SEQUENCES};

use std::path::{Path, PathBuf};

use lstm_model::{Cell, LstmClassifier, ModelSpec, Readout, Sequence};
use onnx::attribute_proto::AttributeType;
use onnx::tensor_proto::DataType;
use onnx::tensor_shape_proto::{dimension, Dimension};
use onnx::type_proto;
use onnx::{
    AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, StringStringEntryProto, TensorProto,
    TensorShapeProto, TypeProto, ValueInfoProto,
};
use prost::Message;

/// The ONNX operator set the graph is written for.
pub const OPSET: i64 = 17;
/// The ONNX IR version matching [`OPSET`].
pub const IR_VERSION: i64 = 8;
/// Name of the graph's input.
pub const INPUT: &str = "images";
/// Name of the graph's output.
pub const OUTPUT: &str = "logits";

/// What can go wrong while exporting.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    /// The model does not hold a parameter the export needs.
    #[error("the model has no parameter `{name}`; it was not built by lstm-model")]
    MissingParameter {
        /// The parameter's name.
        name: String,
    },
    /// The standardisation would divide by zero or is not a number.
    #[error("input standardisation mean {mean}, std {std}: the std must be finite and positive")]
    BadStandardization {
        /// The mean given.
        mean: f64,
        /// The standard deviation given.
        std: f64,
    },
    /// The model's standardisation is per feature (sequences); the graph
    /// builds in one global mean and deviation only.
    #[error(
        "the model standardises each of its {features} features separately (model.json `standardization`); \
         the ONNX export builds in one global mean and deviation only: standardise the input yourself \
         with those statistics, or export a model trained with data.normalize \"scale\""
    )]
    PerFeatureStandardization {
        /// Number of per-feature statistics.
        features: usize,
    },
    /// libtorch refused to read a parameter.
    #[error("libtorch error: {0}")]
    Torch(#[from] tch::TchError),
    /// Writing the file failed.
    #[error("{}: {source}; choose a writable --out path", path.display())]
    Io {
        /// The file or folder at fault.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl OnnxError {
    /// Whether the user's config is at fault (exit status 2 in the bin). Never:
    /// every failure here is in the model, its statistics, libtorch or the file.
    pub fn is_config(&self) -> bool {
        false
    }
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, OnnxError>;

/// Choices of the export beyond the model itself.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportOptions {
    /// `(mean, std)` of a model trained on standardised pixels
    /// (`data.normalize = "standardize"`): the graph computes
    /// `(images - mean) / std` first, so its input stays pixel / 255.
    /// `None` (the default) for models trained on pixel / 255.
    pub standardization: Option<(f64, f64)>,
}

impl ExportOptions {
    /// The options a saved model asks for: its `model.json` standardisation
    /// (format 3), built into the graph so that the exported input is
    /// pixel / 255. Per-feature statistics are refused
    /// ([`OnnxError::PerFeatureStandardization`]).
    /// A model of series builds its own (per-dimension) statistics into its
    /// graph from `model.json`, so its options carry none.
    pub fn for_model(model: &LstmClassifier) -> Result<Self> {
        if sequence_input(model).is_some() {
            return Ok(ExportOptions::default());
        }
        let standardization = match &model.spec().standardization {
            None => None,
            Some(st) => match (st.mean.as_slice(), st.std.as_slice()) {
                ([mean], [std]) => Some((*mean, *std)),
                _ => return Err(OnnxError::PerFeatureStandardization { features: st.mean.len() }),
            },
        };
        Ok(ExportOptions { standardization })
    }
}

/// The model as ONNX bytes.
pub fn to_bytes(model: &LstmClassifier, options: &ExportOptions) -> Result<Vec<u8>> {
    Ok(to_model_proto(model, options)?.encode_to_vec())
}

/// Writes the model as an ONNX file at `path`, through a temporary file in the
/// same folder and a rename, so that `path` never holds half a model.
pub fn write(model: &LstmClassifier, options: &ExportOptions, path: &Path) -> Result<()> {
    let bytes = to_bytes(model, options)?;
    atomic_file::write(path, &bytes).map_err(|source| OnnxError::Io { path: path.to_owned(), source })
}

/// The model as an ONNX `ModelProto`: for pictures, input `images`
/// `[N, height, width]` (pixel / 255); for a model of series (model.json
/// input `sequence`), inputs `sequences` `[N, T, F]` (raw values; the
/// per-dimension standardisation and `points_per_step` are in the graph) and
/// `lengths` `[N]` int32 (fed to the recurrent nodes' `sequence_lens`);
/// output `logits` `[N, classes]`. `options` apply to pictures only.
pub fn to_model_proto(model: &LstmClassifier, options: &ExportOptions) -> Result<ModelProto> {
    let (graph, metadata_props) = match sequence_input(model) {
        Some(input) => (series::graph(model, input)?, series_metadata(model.spec(), input)),
        None => (picture_graph(model, options)?, metadata(model.spec(), options)),
    };
    Ok(ModelProto {
        ir_version: Some(IR_VERSION),
        opset_import: vec![OperatorSetIdProto { domain: Some(String::new()), version: Some(OPSET) }],
        producer_name: Some("lstm-mnist".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        graph: Some(graph),
        metadata_props,
        ..Default::default()
    })
}

/// The graph of a picture model: input `images`, output `logits`.
fn picture_graph(model: &LstmClassifier, options: &ExportOptions) -> Result<GraphProto> {
    let spec = model.spec();
    let mut g = GraphBuilder::default();
    let mut x = INPUT.to_owned();
    if let Some((mean, std)) = options.standardization {
        if !(std.is_finite() && std > 0.0 && mean.is_finite()) {
            return Err(OnnxError::BadStandardization { mean, std });
        }
        let m = g.scalar("input_mean", mean as f32);
        let s = g.scalar("input_std", std as f32);
        let centred = g.node("Sub", &[&x, &m], vec![]);
        x = g.node("Div", &[&centred, &s], vec![]);
    }
    let seq = sequence(&mut g, spec, &x);
    let top = recurrent_layers(&mut g, model, &seq, None)?;
    let features = match spec.config.readout {
        Readout::Last => {
            let last = g.initializer_i64("last_step", &[], &[spec.steps - 1]);
            g.node("Gather", &[&top, &last], vec![attr_int("axis", 0)])
        }
        Readout::Mean => g.node("ReduceMean", &[&top], vec![attr_ints("axes", &[0]), attr_int("keepdims", 0)]),
    };
    let w = g.initializer_f32("out.weight", &[spec.classes(), readout_width(spec)], &param(model, "out.weight")?);
    let b = g.initializer_f32("out.bias", &[spec.classes()], &param(model, "out.bias")?);
    g.nodes.push(node("Gemm", &[&features, &w, &b], &[OUTPUT], vec![attr_int("transB", 1)]));
    Ok(GraphProto {
        name: Some("lstm_mnist".into()),
        node: g.nodes,
        initializer: g.initializers,
        input: vec![value_info_of(
            INPUT,
            &[Dim::Batch, Dim::Fixed(spec.image_height), Dim::Fixed(spec.image_width)],
            DataType::Float,
        )],
        output: vec![value_info_of(OUTPUT, &[Dim::Batch, Dim::Fixed(spec.classes())], DataType::Float)],
        doc_string: Some(format!(
            "{} classifier: input `{INPUT}` float32 [N, {}, {}] holding pixel/255, output `{OUTPUT}` [N, {}]",
            spec.config.cell.name().to_uppercase(),
            spec.image_height,
            spec.image_width,
            spec.classes()
        )),
        ..Default::default()
    })
}

/// The metadata of a model of series: class names, inputs, points per step
/// and the statistics built into the graph.
fn series_metadata(spec: &ModelSpec, input: data_core::SequenceInput) -> Vec<StringStringEntryProto> {
    let c = &spec.config;
    let mut entries = vec![
        ("class_names", serde_json::Value::from(spec.class_names.clone()).to_string()),
        (
            "input",
            format!(
                "{SEQUENCES}: float32 [N, T, {}] raw values (standardised in the graph); {LENGTHS}: int32 [N], \
                 points per series (1..=T)",
                input.features
            ),
        ),
        ("output", format!("{OUTPUT}: float32 [N, {}], softmax gives the class probabilities", spec.classes())),
        ("features", input.features.to_string()),
        ("points_per_step", input.points_per_step.to_string()),
        ("cell", c.cell.name().into()),
        ("layers", c.layers.to_string()),
        ("hidden", c.hidden.to_string()),
        ("bidirectional", c.bidirectional.to_string()),
    ];
    if let Some(st) = &spec.standardization {
        entries.push(("standardization", serde_json::json!({"mean": st.mean, "std": st.std}).to_string()));
    }
    entries.into_iter().map(|(k, v)| StringStringEntryProto { key: Some(k.into()), value: Some(v) }).collect()
}

/// The metadata written into the model: class names and input contract.
fn metadata(spec: &ModelSpec, options: &ExportOptions) -> Vec<StringStringEntryProto> {
    let c = &spec.config;
    let sequence = match c.sequence {
        Sequence::Rows => "rows",
        Sequence::Pixels => "pixels",
        Sequence::PermutedPixels => "permuted-pixels",
    };
    let mut entries = vec![
        ("class_names", serde_json::Value::from(spec.class_names.clone()).to_string()),
        ("image_height", spec.image_height.to_string()),
        ("image_width", spec.image_width.to_string()),
        ("input", format!("{INPUT}: float32 [N, {}, {}], pixel / 255", spec.image_height, spec.image_width)),
        ("output", format!("{OUTPUT}: float32 [N, {}], softmax gives the class probabilities", spec.classes())),
        ("cell", c.cell.name().into()),
        ("sequence", sequence.into()),
        ("layers", c.layers.to_string()),
        ("hidden", c.hidden.to_string()),
        ("bidirectional", c.bidirectional.to_string()),
    ];
    if let Some((mean, std)) = options.standardization {
        entries.push(("standardization", format!("{{\"mean\": {mean}, \"std\": {std}}}")));
    }
    entries.into_iter().map(|(k, v)| StringStringEntryProto { key: Some(k.into()), value: Some(v) }).collect()
}

/// Turns images `x` `[N, H, W]` into the time-major sequence `[T, N, F]` the
/// recurrent nodes read.
fn sequence(g: &mut GraphBuilder, spec: &ModelSpec, x: &str) -> String {
    let c = &spec.config;
    let per_step = match c.sequence {
        Sequence::Rows => x.to_owned(),
        Sequence::Pixels => {
            let shape = g.initializer_i64("pixels_shape", &[3], &[0, -1, 1]);
            g.node("Reshape", &[x, &shape], vec![])
        }
        Sequence::PermutedPixels => {
            let flat_shape = g.initializer_i64("flat_shape", &[2], &[0, -1]);
            let flat = g.node("Reshape", &[x, &flat_shape], vec![]);
            let order = lstm_model::pixel_permutation(c.permutation_seed, spec.steps as usize);
            let order = g.initializer_i64("pixel_permutation", &[spec.steps], &order);
            let permuted = g.node("Gather", &[&flat, &order], vec![attr_int("axis", 1)]);
            let shape = g.initializer_i64("pixels_shape", &[3], &[0, -1, 1]);
            g.node("Reshape", &[&permuted, &shape], vec![])
        }
    };
    g.node("Transpose", &[&per_step], vec![attr_ints("perm", &[1, 0, 2])])
}

/// One ONNX `LSTM`/`GRU` node per layer over `x` `[T, N, F]`, each series
/// read up to `sequence_lens` (an int32 `[N]` value; `None`: all `T`);
/// returns the top layer's output `[T, N, directions · hidden]`.
fn recurrent_layers(
    g: &mut GraphBuilder,
    model: &LstmClassifier,
    x: &str,
    sequence_lens: Option<&str>,
) -> Result<String> {
    let spec = model.spec();
    let c = &spec.config;
    let (h, dirs) = (c.hidden, c.directions());
    let order = gate_order(c.cell);
    let merge_shape = g.initializer_i64("merge_directions_shape", &[3], &[0, 0, -1]);
    let mut input = x.to_owned();
    for layer in 0..c.layers {
        let width = if layer == 0 { spec.features } else { h * dirs };
        let (mut w, mut r, mut b) = (Vec::new(), Vec::new(), Vec::new());
        for suffix in ["", "_reverse"].into_iter().take(dirs as usize) {
            let name = |what: &str| format!("{}.{what}_l{layer}{suffix}", c.cell.name());
            w.extend(reorder_gates(&param(model, &name("weight_ih"))?, &order, h));
            r.extend(reorder_gates(&param(model, &name("weight_hh"))?, &order, h));
            b.extend(reorder_gates(&param(model, &name("bias_ih"))?, &order, h));
            b.extend(reorder_gates(&param(model, &name("bias_hh"))?, &order, h));
        }
        let gh = c.cell.gates() * h;
        let w = g.initializer_f32(&format!("W_l{layer}"), &[dirs, gh, width], &w);
        let r = g.initializer_f32(&format!("R_l{layer}"), &[dirs, gh, h], &r);
        let b = g.initializer_f32(&format!("B_l{layer}"), &[dirs, 2 * gh], &b);
        let direction = if c.bidirectional { "bidirectional" } else { "forward" };
        let mut attrs = vec![attr_int("hidden_size", h), attr_string("direction", direction)];
        if c.cell == Cell::Gru {
            attrs.push(attr_int("linear_before_reset", 1));
        }
        let op = match c.cell {
            Cell::Lstm => "LSTM",
            Cell::Gru => "GRU",
        };
        // Y: [T, directions, N, hidden] -> [T, N, directions, hidden] -> [T, N, directions * hidden].
        let y = match sequence_lens {
            None => g.node(op, &[&input, &w, &r, &b], attrs),
            Some(lens) => g.node(op, &[&input, &w, &r, &b, lens], attrs),
        };
        let y = g.node("Transpose", &[&y], vec![attr_ints("perm", &[0, 2, 1, 3])]);
        input = g.node("Reshape", &[&y, &merge_shape], vec![]);
    }
    Ok(input)
}

/// Where each of ONNX's gate blocks is in PyTorch's order: LSTM i, o, f, c
/// from PyTorch's i, f, g, o; GRU z, r, h from PyTorch's r, z, n.
pub fn gate_order(cell: Cell) -> Vec<usize> {
    match cell {
        Cell::Lstm => vec![0, 3, 1, 2],
        Cell::Gru => vec![1, 0, 2],
    }
}

/// Reorders the gate blocks of a row-major `[gates · hidden, ...]` parameter:
/// block `k` of the result is block `order[k]` of `values`.
pub fn reorder_gates(values: &[f32], order: &[usize], hidden: i64) -> Vec<f32> {
    let block = values.len() / order.len();
    debug_assert_eq!(block % hidden as usize, 0);
    order.iter().flat_map(|&k| values[k * block..(k + 1) * block].iter().copied()).collect()
}

/// Width of the readout's input: hidden units times directions.
fn readout_width(spec: &ModelSpec) -> i64 {
    spec.config.hidden * spec.config.directions()
}

/// A parameter's values, row-major, on the CPU.
fn param(model: &LstmClassifier, name: &str) -> Result<Vec<f32>> {
    let vars = model.var_store().variables();
    let t = vars.get(name).ok_or_else(|| OnnxError::MissingParameter { name: name.to_owned() })?;
    let flat = t.f_to_device(tch::Device::Cpu)?.f_to_kind(tch::Kind::Float)?.f_contiguous()?.f_flatten(0, -1)?;
    Ok(Vec::<f32>::try_from(&flat)?)
}

/// Nodes and initializers under construction, with fresh value names.
#[derive(Default)]
struct GraphBuilder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    counter: usize,
}

impl GraphBuilder {
    /// Adds a one-output node and returns the output's name.
    fn node(&mut self, op: &str, inputs: &[&str], attributes: Vec<AttributeProto>) -> String {
        self.counter += 1;
        let out = format!("{}_{}", op.to_lowercase(), self.counter);
        self.nodes.push(node(op, inputs, &[&out], attributes));
        out
    }

    fn initializer_f32(&mut self, name: &str, dims: &[i64], values: &[f32]) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push_initializer(name, dims, DataType::Float, raw)
    }

    fn initializer_i64(&mut self, name: &str, dims: &[i64], values: &[i64]) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push_initializer(name, dims, DataType::Int64, raw)
    }

    fn initializer_i32(&mut self, name: &str, dims: &[i64], values: &[i32]) -> String {
        let raw = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.push_initializer(name, dims, DataType::Int32, raw)
    }

    fn scalar(&mut self, name: &str, value: f32) -> String {
        self.initializer_f32(name, &[], &[value])
    }

    fn push_initializer(&mut self, name: &str, dims: &[i64], kind: DataType, raw: Vec<u8>) -> String {
        if !self.initializers.iter().any(|t| t.name.as_deref() == Some(name)) {
            self.initializers.push(TensorProto {
                name: Some(name.to_owned()),
                dims: dims.to_vec(),
                data_type: Some(kind as i32),
                raw_data: Some(raw),
                ..Default::default()
            });
        }
        name.to_owned()
    }
}

fn node(op: &str, inputs: &[&str], outputs: &[&str], attribute: Vec<AttributeProto>) -> NodeProto {
    NodeProto {
        op_type: Some(op.to_owned()),
        name: Some(outputs[0].to_owned()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: outputs.iter().map(|s| s.to_string()).collect(),
        attribute,
        ..Default::default()
    }
}

fn attr_int(name: &str, value: i64) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Int as i32),
        i: Some(value),
        ..Default::default()
    }
}

fn attr_ints(name: &str, values: &[i64]) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::Ints as i32),
        ints: values.to_vec(),
        ..Default::default()
    }
}

fn attr_string(name: &str, value: &str) -> AttributeProto {
    AttributeProto {
        name: Some(name.into()),
        r#type: Some(AttributeType::String as i32),
        s: Some(value.as_bytes().to_vec()),
        ..Default::default()
    }
}

/// One dimension of a graph input or output.
enum Dim {
    /// The batch size, named `N`.
    Batch,
    /// A free dimension of this name (the series length `T`).
    Named(&'static str),
    Fixed(i64),
}

fn value_info_of(name: &str, dims: &[Dim], kind: DataType) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::Batch => dimension::Value::DimParam("N".into()),
                Dim::Named(n) => dimension::Value::DimParam((*n).into()),
                Dim::Fixed(n) => dimension::Value::DimValue(*n),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(kind as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests;
