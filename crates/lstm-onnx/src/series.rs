//! The graph of a model of series (`model.json` input `sequence`): inputs
//! `sequences` `[N, T, F]` (float, raw: the per-dimension standardisation of
//! `model.json` is built in) and `lengths` `[N]` (int32, in points), output
//! `logits` `[N, classes]`. `T` is free. With `points_per_step = k > 1` the
//! graph zeroes the points after each length, pads `T` to a multiple of `k`,
//! reshapes to `[N, ceil(T / k), k · F]` and reads `ceil(length / k)` steps,
//! as lstm-model does. The recurrent nodes get the step counts as
//! `sequence_lens`; the readout takes each series' last real step (`last`)
//! or the mean over its real steps (`mean`).

use data_core::{InputSpec, SequenceInput};
use lstm_model::{LstmClassifier, Readout};

use crate::onnx::tensor_proto::DataType;
use crate::onnx::{GraphProto, ValueInfoProto};
use crate::{attr_int, attr_ints, node, param, readout_width, recurrent_layers, value_info_of, Dim, GraphBuilder};
use crate::{OnnxError, Result, OUTPUT};

/// Name of a series graph's input values.
pub const SEQUENCES: &str = "sequences";
/// Name of a series graph's input lengths (int32, points per series).
pub const LENGTHS: &str = "lengths";

/// The sequence input of `model`, when it is a model of series.
pub fn sequence_input(model: &LstmClassifier) -> Option<SequenceInput> {
    match &model.spec().input {
        Some(InputSpec::Sequence(s)) => Some(*s),
        _ => None,
    }
}

/// The graph of a series model (see the module's documentation).
pub(crate) fn graph(model: &LstmClassifier, input: SequenceInput) -> Result<GraphProto> {
    let spec = model.spec();
    let (f, k) = (i64::from(input.features), i64::from(input.points_per_step.max(1)));
    let mut g = GraphBuilder::default();
    let x = standardized(&mut g, model, f)?;
    let (x, steps) = if k > 1 { grouped(&mut g, &x, k, f) } else { (x, LENGTHS.to_owned()) };
    let time_major = g.node("Transpose", &[&x], vec![attr_ints("perm", &[1, 0, 2])]);
    let top = recurrent_layers(&mut g, model, &time_major, Some(&steps))?;
    let steps64 = g.node("Cast", &[&steps], vec![attr_int("to", DataType::Int64 as i64)]);
    let features = match spec.config.readout {
        Readout::Last => {
            // [T, N, D] -> [N, T, D], gather step length - 1 of each series.
            let batch_major = g.node("Transpose", &[&top], vec![attr_ints("perm", &[1, 0, 2])]);
            let one = g.initializer_i64("one", &[], &[1]);
            let last = g.node("Sub", &[&steps64, &one], vec![]);
            let axis1 = g.initializer_i64("axis_1", &[1], &[1]);
            let index = g.node("Unsqueeze", &[&last, &axis1], vec![]);
            g.node("GatherND", &[&batch_major, &index], vec![attr_int("batch_dims", 1)])
        }
        Readout::Mean => {
            let mask = step_mask(&mut g, &top, &steps64);
            let real = g.node("Mul", &[&top, &mask], vec![]);
            let axis0 = g.initializer_i64("axis_0", &[1], &[0]);
            let sum = g.node("ReduceSum", &[&real, &axis0], vec![attr_int("keepdims", 0)]);
            let count = g.node("Cast", &[&steps], vec![attr_int("to", DataType::Float as i64)]);
            let axis1 = g.initializer_i64("axis_1", &[1], &[1]);
            let count = g.node("Unsqueeze", &[&count, &axis1], vec![]);
            g.node("Div", &[&sum, &count], vec![])
        }
    };
    let w = g.initializer_f32("out.weight", &[spec.classes(), readout_width(spec)], &param(model, "out.weight")?);
    let b = g.initializer_f32("out.bias", &[spec.classes()], &param(model, "out.bias")?);
    g.nodes.push(node("Gemm", &[&features, &w, &b], &[OUTPUT], vec![attr_int("transB", 1)]));
    let inputs: Vec<ValueInfoProto> = vec![
        value_info_of(SEQUENCES, &[Dim::Batch, Dim::Named("T"), Dim::Fixed(f)], DataType::Float),
        value_info_of(LENGTHS, &[Dim::Batch], DataType::Int32),
    ];
    Ok(GraphProto {
        name: Some("lstm_mnist_series".into()),
        node: g.nodes,
        initializer: g.initializers,
        input: inputs,
        output: vec![value_info_of(OUTPUT, &[Dim::Batch, Dim::Fixed(spec.classes())], DataType::Float)],
        doc_string: Some(format!(
            "{} classifier of series: inputs `{SEQUENCES}` float32 [N, T, {f}] (raw values) and `{LENGTHS}` int32 [N] \
             (points per series, 1..=T), output `{OUTPUT}` [N, {}]; {k} points per step",
            spec.config.cell.name().to_uppercase(),
            spec.classes()
        )),
        ..Default::default()
    })
}

/// `(sequences - mean) / std` with the per-dimension (or one global)
/// statistics of `model.json`, or the input as it is.
fn standardized(g: &mut GraphBuilder, model: &LstmClassifier, features: i64) -> Result<String> {
    let Some(st) = &model.spec().standardization else { return Ok(SEQUENCES.to_owned()) };
    if let Some(bad) = st.std.iter().zip(&st.mean).find(|(s, m)| !(s.is_finite() && **s > 0.0 && m.is_finite())) {
        return Err(OnnxError::BadStandardization { mean: *bad.1, std: *bad.0 });
    }
    let dims: Vec<i64> = if st.mean.len() == 1 { vec![] } else { vec![features] };
    let to_f32 = |v: &[f64]| v.iter().map(|x| *x as f32).collect::<Vec<f32>>();
    let m = g.initializer_f32("input_mean", &dims, &to_f32(&st.mean));
    let s = g.initializer_f32("input_std", &dims, &to_f32(&st.std));
    let centred = g.node("Sub", &[SEQUENCES, &m], vec![]);
    Ok(g.node("Div", &[&centred, &s], vec![]))
}

/// `k` points per step: points after each length zeroed, `T` padded to a
/// multiple of `k`, reshaped to `[N, T / k, k · F]`; returns it and the
/// step counts `ceil(length / k)` (int32).
fn grouped(g: &mut GraphBuilder, x: &str, k: i64, f: i64) -> (String, String) {
    // Zero the points after each series' length.
    let lengths64 = g.node("Cast", &[LENGTHS], vec![attr_int("to", DataType::Int64 as i64)]);
    let mask = point_mask(g, x, &lengths64);
    let x = g.node("Mul", &[x, &mask], vec![]);
    // pad = (k - T mod k) mod k points at the end of the time axis.
    let shape = g.node("Shape", &[&x], vec![]);
    let one = g.initializer_i64("index_1", &[], &[1]);
    let t = g.node("Gather", &[&shape, &one], vec![attr_int("axis", 0)]);
    let kk = g.initializer_i64("points_per_step", &[], &[k]);
    let rem = g.node("Mod", &[&t, &kk], vec![]);
    let short = g.node("Sub", &[&kk, &rem], vec![]);
    let pad = g.node("Mod", &[&short, &kk], vec![]);
    let axis0 = g.initializer_i64("axis_0", &[1], &[0]);
    let pad = g.node("Unsqueeze", &[&pad, &axis0], vec![]);
    let before = g.initializer_i64("pads_before", &[4], &[0, 0, 0, 0]);
    let after = g.initializer_i64("pads_after", &[1], &[0]);
    let pads = g.node("Concat", &[&before, &pad, &after], vec![attr_int("axis", 0)]);
    let padded = g.node("Pad", &[&x, &pads], vec![]);
    let shape = g.initializer_i64("grouped_shape", &[3], &[0, -1, k * f]);
    let x = g.node("Reshape", &[&padded, &shape], vec![]);
    let k32 = g.initializer_i32("points_per_step_i32", &[], &[k as i32]);
    let k1 = g.initializer_i32("points_per_step_less_one", &[], &[(k - 1) as i32]);
    let up = g.node("Add", &[LENGTHS, &k1], vec![]);
    let steps = g.node("Div", &[&up, &k32], vec![]);
    (x, steps)
}

/// `[N, T, 1]` float: 1 where point `t < lengths[n]`, else 0, for `x` `[N, T, F]`.
fn point_mask(g: &mut GraphBuilder, x: &str, lengths64: &str) -> String {
    let shape = g.node("Shape", &[x], vec![]);
    let one = g.initializer_i64("index_1", &[], &[1]);
    let t = g.node("Gather", &[&shape, &one], vec![attr_int("axis", 0)]);
    let (zero, step) = (g.initializer_i64("zero", &[], &[0]), g.initializer_i64("one", &[], &[1]));
    let range = g.node("Range", &[&zero, &t, &step], vec![]);
    let axis1 = g.initializer_i64("axis_1", &[1], &[1]);
    let limit = g.node("Unsqueeze", &[lengths64, &axis1], vec![]);
    let real = g.node("Less", &[&range, &limit], vec![]);
    let real = g.node("Cast", &[&real], vec![attr_int("to", DataType::Float as i64)]);
    let axis2 = g.initializer_i64("axis_2", &[1], &[2]);
    g.node("Unsqueeze", &[&real, &axis2], vec![])
}

/// `[S, N, 1]` float: 1 where step `s < steps[n]`, for a time-major `top` `[S, N, D]`.
fn step_mask(g: &mut GraphBuilder, top: &str, steps64: &str) -> String {
    let shape = g.node("Shape", &[top], vec![]);
    let zero = g.initializer_i64("zero", &[], &[0]);
    let s = g.node("Gather", &[&shape, &zero], vec![attr_int("axis", 0)]);
    let one = g.initializer_i64("one", &[], &[1]);
    let range = g.node("Range", &[&zero, &s, &one], vec![]);
    let axis1 = g.initializer_i64("axis_1", &[1], &[1]);
    let column = g.node("Unsqueeze", &[&range, &axis1], vec![]);
    let real = g.node("Less", &[&column, steps64], vec![]);
    let real = g.node("Cast", &[&real], vec![attr_int("to", DataType::Float as i64)]);
    let axis2 = g.initializer_i64("axis_2", &[1], &[2]);
    g.node("Unsqueeze", &[&real, &axis2], vec![])
}
