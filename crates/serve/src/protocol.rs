//! The Open Inference Protocol (KServe v2) JSON shapes, and the checks that
//! turn an inference request into the model's input.

use std::fmt;

use serde::de::{self, DeserializeSeed, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::model::ModelInfo;

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

/// The model's input from a request: `count × rows × columns` values and
/// `count`, after checking names, types, shapes and values.
pub fn input_values(request: &InferRequest, info: &ModelInfo) -> Result<(Vec<f32>, usize), ApiError> {
    let expected = format!("`{}` FP32 [N, {}, {}]", info.input_name, info.rows, info.columns);
    let [input] = request.inputs.as_slice() else {
        return Err(ApiError::bad(format!("{} inputs given: this model takes one, {expected}", request.inputs.len())));
    };
    if input.name != info.input_name {
        return Err(ApiError::bad(format!(
            "input `{}` is not an input of this model: it takes {expected}",
            input.name
        )));
    }
    if input.parameters.as_ref().is_some_and(|p| p.contains_key("binary_data_size")) {
        return Err(ApiError::bad(
            "binary tensor data is not supported: send the values in JSON (tritonclient: set_data_from_numpy(..., binary_data=False))",
        ));
    }
    if input.datatype != "FP32" {
        return Err(ApiError::bad(format!("input `{}` has datatype {}: send {expected}", input.name, input.datatype)));
    }
    let shape_ok = input.shape.len() == 3
        && input.shape[0] >= 1
        && input.shape[1] == info.rows as i64
        && input.shape[2] == info.columns as i64;
    if !shape_ok {
        return Err(ApiError::bad(format!("input `{}` has shape {:?}: send {expected}", input.name, input.shape)));
    }
    let count = input.shape[0] as usize;
    if count > MAX_INPUTS_PER_REQUEST {
        return Err(ApiError::bad(format!(
            "{count} inputs in one request: send at most {MAX_INPUTS_PER_REQUEST} per request"
        )));
    }
    let data = &input.data.0;
    if data.len() != count * info.values_per_input() {
        return Err(ApiError::bad(format!(
            "input `{}` has {} values but its shape {:?} needs {}",
            input.name,
            data.len(),
            input.shape,
            count * info.values_per_input()
        )));
    }
    if let Some(i) = data.iter().position(|v| !v.is_finite() || v.abs() > f64::from(f32::MAX)) {
        return Err(ApiError::bad(format!("input `{}` value {i} is not a finite FP32 number", input.name)));
    }
    Ok((data.iter().map(|&v| v as f32).collect(), count))
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

/// The model metadata (`GET /v2/models/NAME`), with the class names added.
pub fn metadata(name: &str, info: &ModelInfo) -> Value {
    serde_json::json!({
        "name": name,
        "versions": ["1"],
        "platform": "lstm-mnist",
        "inputs": [{
            "name": info.input_name,
            "datatype": "FP32",
            "shape": [-1, info.rows, info.columns],
        }],
        "outputs": [
            { "name": "probabilities", "datatype": "FP32", "shape": [-1, info.class_names.len()] },
            { "name": "class", "datatype": "INT64", "shape": [-1] },
            { "name": "class_name", "datatype": "BYTES", "shape": [-1] },
        ],
        "class_names": info.class_names,
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
        }
    }

    fn request(json: &str) -> Result<(Vec<f32>, usize), ApiError> {
        input_values(&parse_request(json.as_bytes())?, &info())
    }

    #[test]
    fn nested_and_flat_data_give_the_same_values() {
        let flat = r#"{"inputs":[{"name":"images","shape":[1,2,3],"datatype":"FP32","data":[0,1,2,3,4,5]}]}"#;
        let nested = r#"{"inputs":[{"name":"images","shape":[1,2,3],"datatype":"FP32","data":[[[0,1,2],[3,4,5]]]}]}"#;
        assert_eq!(request(flat).unwrap(), (vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], 1));
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
}
