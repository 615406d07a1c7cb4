//! The Open Inference Protocol (KServe v2) JSON shapes, and the checks that
//! turn an inference request into the model's input.

use std::fmt;

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::model::{Inputs, ModelInfo};

/// Most inputs one request may carry.
pub const MAX_INPUTS_PER_REQUEST: usize = 1024;

/// A tensor's values as sent: a flat or nested JSON array of numbers,
/// flattened while parsing (no intermediate JSON tree).
#[derive(Debug, Default)]
pub struct FlatData(pub Vec<f64>);

impl<'de> Deserialize<'de> for FlatData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut out = Vec::new();
        Flatten(&mut out).deserialize(d)?;
        Ok(FlatData(out))
    }
}

/// Appends the numbers of a (nested) array to a vector.
struct Flatten<'a>(&'a mut Vec<f64>);

impl<'de> DeserializeSeed<'de> for Flatten<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Flatten<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number or a (nested) array of numbers")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.0.push(v);
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.visit_f64(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.visit_f64(v as f64)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Flatten(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// One input tensor of an inference request.
#[derive(Debug, Deserialize)]
pub struct InferInput {
    /// The input's name (`images`).
    pub name: String,
    /// Its shape.
    pub shape: Vec<i64>,
    /// Its data type (`FP32`).
    pub datatype: String,
    /// Its values, row-major.
    #[serde(default)]
    pub data: FlatData,
    /// Per-input parameters (`binary_data_size` is refused).
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
}

/// An output asked for by name.
#[derive(Debug, Deserialize)]
pub struct RequestedOutput {
    /// The output's name.
    pub name: String,
    /// Per-output parameters (`binary_data: true` is refused).
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
}

/// An inference request (`POST /v2/models/NAME/infer`).
#[derive(Debug, Deserialize)]
pub struct InferRequest {
    /// The client's request id, echoed back.
    #[serde(default)]
    pub id: Option<String>,
    /// The input tensors.
    pub inputs: Vec<InferInput>,
    /// The outputs wanted (all when absent).
    #[serde(default)]
    pub outputs: Option<Vec<RequestedOutput>>,
    /// Request parameters (ignored, as the protocol allows).
    #[serde(default)]
    pub parameters: Option<Map<String, Value>>,
}

/// One output tensor of an inference response.
#[derive(Debug, Serialize)]
pub struct OutputTensor {
    /// The output's name.
    pub name: &'static str,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its data type.
    pub datatype: &'static str,
    /// Its values, row-major.
    pub data: Value,
}

/// An inference response.
#[derive(Debug, Serialize)]
pub struct InferResponse {
    /// The served model's name.
    pub model_name: String,
    /// The model's version (always `1`).
    pub model_version: &'static str,
    /// The request's id, if it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The output tensors.
    pub outputs: Vec<OutputTensor>,
}

/// The outputs a model gives, in order.
pub const OUTPUTS: [&str; 3] = ["probabilities", "class", "class_name"];

/// Parses a request body, saying where it is malformed.
pub fn parse_request(body: &[u8]) -> Result<InferRequest, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad(format!(
            "the body is not an inference request ({e}): send JSON {{\"inputs\": [{{\"name\", \"shape\", \"datatype\", \"data\"}}]}}"
        ))
    })
}

/// The model's input from a request, after checking names, types, shapes,
/// lengths and values: pictures `images` `[N, H, W]`, or sequences
/// `sequences` `[N, T, F]` (any `T`) with optional `lengths` `[N]`.
pub fn input_values(request: &InferRequest, info: &ModelInfo) -> Result<Inputs, ApiError> {
    let expected = expected_inputs(info);
    let mut main = None;
    let mut lengths = None;
    for input in &request.inputs {
        let slot = match input.name.as_str() {
            name if name == info.input_name => &mut main,
            "lengths" if info.takes_sequences() => &mut lengths,
            _ => {
                return Err(ApiError::bad(format!(
                    "input `{}` is not an input of this model: it takes {expected}",
                    input.name
                )))
            }
        };
        if slot.replace(input).is_some() {
            return Err(ApiError::bad(format!("input `{}` is given twice: it takes {expected}", input.name)));
        }
        if input.parameters.as_ref().is_some_and(|p| p.contains_key("binary_data_size")) {
            return Err(ApiError::bad(
                "binary tensor data is not supported: send the values in JSON (tritonclient: set_data_from_numpy(..., binary_data=False))",
            ));
        }
    }
    let Some(input) = main else {
        return Err(ApiError::bad(format!("{} inputs given: this model takes {expected}", request.inputs.len())));
    };
    let (count, steps) = check_values(input, info, &expected)?;
    let values = input.data.0.iter().map(|&v| v as f32).collect();
    let lengths = lengths.map(|l| check_lengths(l, count, steps)).transpose()?;
    Ok(Inputs { values, count, steps, lengths })
}

/// What the model takes, for messages.
fn expected_inputs(info: &ModelInfo) -> String {
    if info.takes_sequences() {
        format!(
            "`{}` FP32 [N, T, {}] (T steps, any number) and optionally `lengths` INT64 or INT32 [N] \
             (the real steps of each, 1..=T)",
            info.input_name, info.columns
        )
    } else {
        format!("one input, `{}` FP32 [N, {}, {}]", info.input_name, info.rows, info.columns)
    }
}

/// Checks the main input's type, shape and values: `(N, T)`.
fn check_values(input: &InferInput, info: &ModelInfo, expected: &str) -> Result<(usize, usize), ApiError> {
    if input.datatype != "FP32" {
        return Err(ApiError::bad(format!("input `{}` has datatype {}: send {expected}", input.name, input.datatype)));
    }
    let rows_ok = |t: i64| if info.takes_sequences() { t >= 1 } else { t == info.rows as i64 };
    let shape_ok = input.shape.len() == 3
        && input.shape[0] >= 1
        && rows_ok(input.shape[1])
        && input.shape[2] == info.columns as i64;
    if !shape_ok {
        return Err(ApiError::bad(format!("input `{}` has shape {:?}: send {expected}", input.name, input.shape)));
    }
    let (count, steps) = (input.shape[0] as usize, input.shape[1] as usize);
    if count > MAX_INPUTS_PER_REQUEST {
        return Err(ApiError::bad(format!(
            "{count} inputs in one request: send at most {MAX_INPUTS_PER_REQUEST} per request"
        )));
    }
    let data = &input.data.0;
    let needed = count.checked_mul(steps).and_then(|v| v.checked_mul(info.columns));
    if needed != Some(data.len()) {
        return Err(ApiError::bad(format!(
            "input `{}` has {} values but its shape {:?} needs {}",
            input.name,
            data.len(),
            input.shape,
            needed.map_or_else(|| "more than can be counted".to_owned(), |n| n.to_string())
        )));
    }
    if let Some(i) = data.iter().position(|v| !v.is_finite() || v.abs() > f64::from(f32::MAX)) {
        return Err(ApiError::bad(format!("input `{}` value {i} is not a finite FP32 number", input.name)));
    }
    Ok((count, steps))
}

/// Checks `lengths` against `count` sequences of `steps` steps.
fn check_lengths(input: &InferInput, count: usize, steps: usize) -> Result<Vec<i64>, ApiError> {
    if !matches!(input.datatype.as_str(), "INT64" | "INT32") {
        return Err(ApiError::bad(format!(
            "input `lengths` has datatype {}: send INT64 or INT32 [{count}], one length per sequence",
            input.datatype
        )));
    }
    if input.shape != [count as i64] || input.data.0.len() != count {
        return Err(ApiError::bad(format!(
            "input `lengths` has shape {:?} and {} values for {count} sequences: send [{count}], one length per sequence",
            input.shape,
            input.data.0.len()
        )));
    }
    input
        .data
        .0
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            if v.fract() == 0.0 && v >= 1.0 && v <= steps as f64 {
                Ok(v as i64)
            } else {
                Err(ApiError::bad(format!(
                    "lengths[{i}] = {v}: every length must be a whole number in 1..={steps} (the T of `sequences`)"
                )))
            }
        })
        .collect()
}

/// The names of the outputs asked for, checked (all when none is named).
pub fn requested_outputs(request: &InferRequest) -> Result<Vec<&'static str>, ApiError> {
    let Some(asked) = &request.outputs else {
        return Ok(OUTPUTS.to_vec());
    };
    asked
        .iter()
        .map(|o| {
            if o.parameters.as_ref().and_then(|p| p.get("binary_data")) == Some(&Value::Bool(true)) {
                return Err(ApiError::bad(format!(
                    "output `{}`: binary data is not supported: ask for JSON (tritonclient: InferRequestedOutput(name, binary_data=False))",
                    o.name
                )));
            }
            OUTPUTS.into_iter().find(|&n| n == o.name).ok_or_else(|| {
                ApiError::bad(format!("output `{}` is not an output of this model: ask for {OUTPUTS:?}", o.name))
            })
        })
        .collect()
}

/// The response's output tensors for `count` inputs' probabilities.
pub fn outputs(probabilities: &[f32], count: usize, info: &ModelInfo, wanted: &[&'static str]) -> Vec<OutputTensor> {
    let classes = info.class_names.len();
    let best: Vec<usize> = probabilities
        .chunks(classes.max(1))
        .map(|p| p.iter().enumerate().fold(0, |best, (i, &v)| if v > p[best] { i } else { best }))
        .collect();
    wanted
        .iter()
        .map(|&name| match name {
            "probabilities" => OutputTensor {
                name,
                shape: vec![count, classes],
                datatype: "FP32",
                data: Value::from(probabilities.to_vec()),
            },
            "class" => OutputTensor { name, shape: vec![count], datatype: "INT64", data: Value::from(best.clone()) },
            _ => OutputTensor {
                name,
                shape: vec![count],
                datatype: "BYTES",
                data: Value::from(best.iter().map(|&c| info.class_names[c].clone()).collect::<Vec<_>>()),
            },
        })
        .collect()
}

/// The model metadata (`GET /v2/models/NAME`), with the class names, the
/// model's input description (`model.json`) and whether it streams added.
pub fn metadata(name: &str, info: &ModelInfo) -> Value {
    let inputs = if info.takes_sequences() {
        serde_json::json!([
            { "name": info.input_name, "datatype": "FP32", "shape": [-1, -1, info.columns] },
            { "name": "lengths", "datatype": "INT64", "shape": [-1], "optional": true },
        ])
    } else {
        serde_json::json!([{ "name": info.input_name, "datatype": "FP32", "shape": [-1, info.rows, info.columns] }])
    };
    serde_json::json!({
        "name": name,
        "versions": ["1"],
        "platform": "lstm-mnist",
        "inputs": inputs,
        "outputs": [
            { "name": "probabilities", "datatype": "FP32", "shape": [-1, info.class_names.len()] },
            { "name": "class", "datatype": "INT64", "shape": [-1] },
            { "name": "class_name", "datatype": "BYTES", "shape": [-1] },
        ],
        "class_names": info.class_names,
        "input": info.input,
        "streaming": info.not_streamable.is_none(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> ModelInfo {
        ModelInfo {
            input_name: "images".into(),
            rows: 2,
            columns: 3,
            class_names: vec!["a".into(), "b".into()],
            not_streamable: None,
            input: data_core::InputSpec::Picture(data_core::PictureInput::new(2, 3, data_core::Invert::Auto)),
        }
    }

    /// A model of sequences of 2 features per step.
    fn sequence_info() -> ModelInfo {
        let input = data_core::InputSpec::Sequence(data_core::SequenceInput { features: 2, points_per_step: 1 });
        ModelInfo { input_name: "sequences".into(), rows: 0, columns: 2, input, ..info() }
    }

    fn request(json: &str) -> Result<Inputs, ApiError> {
        input_values(&parse_request(json.as_bytes())?, &info())
    }

    #[test]
    fn nested_and_flat_data_give_the_same_values() {
        let flat = r#"{"inputs":[{"name":"images","shape":[1,2,3],"datatype":"FP32","data":[0,1,2,3,4,5]}]}"#;
        let nested = r#"{"inputs":[{"name":"images","shape":[1,2,3],"datatype":"FP32","data":[[[0,1,2],[3,4,5]]]}]}"#;
        assert_eq!(request(flat).unwrap(), Inputs::dense(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 1, 2));
        assert_eq!(request(nested).unwrap(), request(flat).unwrap());
    }

    #[test]
    fn malformed_requests_say_what_is_wrong() {
        let cases = [
            (r#"{"inputs": [}"#, "not an inference request"),
            (r#"{"inputs":[{"name":"x","shape":[1,2,3],"datatype":"FP32","data":[]}]}"#, "input `x` is not an input"),
            (r#"{"inputs":[{"name":"images","shape":[1,3,2],"datatype":"FP32","data":[]}]}"#, "shape [1, 3, 2]"),
            (r#"{"inputs":[{"name":"images","shape":[1,2,3],"datatype":"INT8","data":[]}]}"#, "datatype INT8"),
            (r#"{"inputs":[{"name":"images","shape":[1,2,3],"datatype":"FP32","data":[1,2]}]}"#, "has 2 values"),
            (r#"{"inputs":[{"name":"images","shape":[1,2,3],"datatype":"FP32","data":["a"]}]}"#, "number"),
            (r#"{"inputs":[]}"#, "0 inputs given"),
            (r#"{"inputs":[{"name":"images","shape":[9999,2,3],"datatype":"FP32","data":[]}]}"#, "at most 1024"),
        ];
        for (json, want) in cases {
            let err = request(json).unwrap_err();
            assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
            assert!(err.to_string().contains(want), "{json}: {err}");
        }
    }

    #[test]
    fn outputs_carry_probabilities_classes_and_names() {
        let out = outputs(&[0.2, 0.8, 0.9, 0.1], 2, &info(), &OUTPUTS);
        let json = serde_json::to_value(&out).unwrap();
        assert_eq!(json[0]["shape"], serde_json::json!([2, 2]));
        assert_eq!(json[1]["data"], serde_json::json!([1, 0]));
        assert_eq!(json[2]["data"], serde_json::json!(["b", "a"]));
        let req = parse_request(br#"{"inputs":[],"outputs":[{"name":"nope"}]}"#).unwrap();
        assert!(requested_outputs(&req).unwrap_err().to_string().contains("`nope`"));
    }

    #[test]
    fn sequences_of_any_length_take_optional_lengths() {
        let seq = |inputs: &str| {
            input_values(&parse_request(format!("{{\"inputs\":[{inputs}]}}").as_bytes())?, &sequence_info())
        };
        let x = r#"{"name":"sequences","shape":[2,3,2],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,12]}"#;
        let got = seq(x).unwrap();
        assert_eq!((got.count, got.steps, got.lengths, got.values.len()), (2, 3, None, 12));
        let with = seq(&format!(r#"{x},{{"name":"lengths","shape":[2],"datatype":"INT32","data":[3,1]}}"#)).unwrap();
        assert_eq!(with.lengths, Some(vec![3, 1]));
        let one_step = r#"{"name":"sequences","shape":[1,1,2],"datatype":"FP32","data":[1,2]}"#;
        assert_eq!(seq(one_step).unwrap().steps, 1);
        let cases = [
            (format!(r#"{x},{{"name":"lengths","shape":[2],"datatype":"INT64","data":[3,4]}}"#), "lengths[1] = 4"),
            (format!(r#"{x},{{"name":"lengths","shape":[2],"datatype":"INT64","data":[0,1]}}"#), "lengths[0] = 0"),
            (format!(r#"{x},{{"name":"lengths","shape":[2],"datatype":"INT64","data":[1.5,1]}}"#), "whole number"),
            (format!(r#"{x},{{"name":"lengths","shape":[3],"datatype":"INT64","data":[1,1,1]}}"#), "for 2 sequences"),
            (format!(r#"{x},{{"name":"lengths","shape":[2],"datatype":"FP32","data":[1,1]}}"#), "datatype FP32"),
            (format!(r#"{x},{x}"#), "given twice"),
            (r#"{"name":"lengths","shape":[1],"datatype":"INT64","data":[1]}"#.into(), "1 inputs given"),
            (
                r#"{"name":"sequences","shape":[1,2,3],"datatype":"FP32","data":[1,2,3,4,5,6]}"#.into(),
                "shape [1, 2, 3]",
            ),
            (r#"{"name":"sequences","shape":[1,0,2],"datatype":"FP32","data":[]}"#.into(), "shape [1, 0, 2]"),
            (
                r#"{"name":"sequences","shape":[2,9223372036854775807,2],"datatype":"FP32","data":[]}"#.into(),
                "more than",
            ),
            (r#"{"name":"images","shape":[1,2,2],"datatype":"FP32","data":[1,2,3,4]}"#.into(), "input `images`"),
        ];
        for (inputs, want) in cases {
            let err = seq(&inputs).unwrap_err();
            assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
            assert!(err.to_string().contains(want), "{inputs}: {err}");
        }
        let meta = metadata("m", &sequence_info());
        assert_eq!(meta["inputs"][0]["shape"], serde_json::json!([-1, -1, 2]));
        assert_eq!(meta["inputs"][1]["name"], "lengths");
        assert_eq!(meta["input"]["kind"], "sequence");
        // Pictures do not take lengths.
        let pictures = r#"{"inputs":[{"name":"lengths","shape":[1],"datatype":"INT64","data":[1]}]}"#;
        assert!(request(pictures).unwrap_err().to_string().contains("input `lengths` is not an input"));
    }

    #[test]
    fn inputs_of_different_lengths_are_padded_into_one_batch() {
        let a = Inputs::dense(vec![1.0, 2.0], 1, 1);
        let b = Inputs {
            values: vec![3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
            count: 2,
            steps: 2,
            lengths: Some(vec![2, 1]),
        };
        let batch = Inputs::concat(&[a.clone(), b], 2);
        assert_eq!((batch.count, batch.steps), (3, 2));
        assert_eq!(batch.lengths, Some(vec![1, 2, 1]));
        assert_eq!(batch.values, vec![1.0, 2.0, 0.0, 0.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]);
        // Pictures (all of the same steps, no lengths) are put side by side.
        assert_eq!(Inputs::concat(&[a.clone(), a], 2), Inputs::dense(vec![1.0, 2.0, 1.0, 2.0], 2, 1));
    }
}
