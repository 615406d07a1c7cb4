use super::*;
use lstm_model::{Init, ModelConfig};
use tch::Device;

fn model(config: ModelConfig, height: i64, width: i64) -> LstmClassifier {
    let names = (0..3).map(|c| format!("class {c}")).collect();
    LstmClassifier::new(ModelSpec::new(config, height, width, names), Device::Cpu).unwrap()
}

fn ops(proto: &ModelProto) -> Vec<String> {
    proto.graph.as_ref().unwrap().node.iter().map(|n| n.op_type.clone().unwrap()).collect()
}

#[test]
fn gate_blocks_move_to_onnx_order() {
    // Four LSTM gates of hidden 2 and two columns: block k holds the value k.
    let pytorch: Vec<f32> = (0..4).flat_map(|k| [k as f32; 4]).collect();
    let onnx = reorder_gates(&pytorch, &gate_order(Cell::Lstm), 2);
    let blocks: Vec<f32> = onnx.chunks(4).map(|b| b[0]).collect();
    assert_eq!(blocks, [0.0, 3.0, 1.0, 2.0], "i, o, f, c from i, f, g, o");
    let gru: Vec<f32> = (0..3).flat_map(|k| [k as f32; 2]).collect();
    let blocks: Vec<f32> = reorder_gates(&gru, &gate_order(Cell::Gru), 2).chunks(2).map(|b| b[0]).collect();
    assert_eq!(blocks, [1.0, 0.0, 2.0], "z, r, h from r, z, n");
}

#[test]
fn one_recurrent_node_per_layer_with_weights_of_onnx_shapes() {
    let config = ModelConfig { hidden: 5, layers: 2, bidirectional: true, cell: Cell::Gru, ..Default::default() };
    let proto = to_model_proto(&model(config, 6, 4), &ExportOptions::default()).unwrap();
    let ops = ops(&proto);
    assert_eq!(ops.iter().filter(|o| *o == "GRU").count(), 2);
    let graph = proto.graph.as_ref().unwrap();
    let gru = graph.node.iter().find(|n| n.op_type.as_deref() == Some("GRU")).unwrap();
    let attr = |name: &str| gru.attribute.iter().find(|a| a.name.as_deref() == Some(name)).unwrap();
    assert_eq!(attr("linear_before_reset").i, Some(1));
    assert_eq!(attr("direction").s.as_deref(), Some(&b"bidirectional"[..]));
    let dims = |name: &str| graph.initializer.iter().find(|t| t.name.as_deref() == Some(name)).unwrap().dims.clone();
    assert_eq!(dims("W_l0"), [2, 15, 4]);
    assert_eq!(dims("W_l1"), [2, 15, 10]);
    assert_eq!(dims("R_l1"), [2, 15, 5]);
    assert_eq!(dims("B_l1"), [2, 30]);
    assert_eq!(dims("out.weight"), [3, 10]);
    assert_eq!(ops.last().map(String::as_str), Some("Gemm"));
}

#[test]
fn layouts_and_readouts_become_the_expected_nodes() {
    let pixels = ModelConfig { hidden: 3, sequence: Sequence::Pixels, readout: Readout::Mean, ..Default::default() };
    let ops_pixels = ops(&to_model_proto(&model(pixels, 3, 3), &ExportOptions::default()).unwrap());
    assert_eq!(ops_pixels[..2], ["Reshape", "Transpose"]);
    assert!(ops_pixels.contains(&"ReduceMean".to_owned()));
    let permuted = ModelConfig { hidden: 3, sequence: Sequence::PermutedPixels, ..Default::default() };
    let proto = to_model_proto(&model(permuted, 3, 3), &ExportOptions { standardization: Some((0.1, 0.3)) }).unwrap();
    assert_eq!(ops(&proto)[..5], ["Sub", "Div", "Reshape", "Gather", "Reshape"]);
    let graph = proto.graph.unwrap();
    let order = graph.initializer.iter().find(|t| t.name.as_deref() == Some("pixel_permutation")).unwrap();
    let values: Vec<i64> =
        order.raw_data.as_ref().unwrap().chunks(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect();
    assert_eq!(values, lstm_model::pixel_permutation(0, 9));
}

#[test]
fn bytes_decode_back_with_metadata_and_io_names() {
    let m = model(ModelConfig { hidden: 4, init: Init::Pytorch, ..Default::default() }, 5, 5);
    let bytes = to_bytes(&m, &ExportOptions::default()).unwrap();
    let proto = ModelProto::decode(bytes.as_slice()).unwrap();
    assert_eq!(proto.opset_import[0].version, Some(OPSET));
    let meta: std::collections::HashMap<_, _> =
        proto.metadata_props.iter().map(|e| (e.key.clone().unwrap(), e.value.clone().unwrap())).collect();
    let names: Vec<String> = serde_json::from_str(&meta["class_names"]).unwrap();
    assert_eq!(names, ["class 0", "class 1", "class 2"]);
    assert_eq!(meta["sequence"], "rows");
    let graph = proto.graph.unwrap();
    assert_eq!(graph.input[0].name.as_deref(), Some(INPUT));
    assert_eq!(graph.output[0].name.as_deref(), Some(OUTPUT));
    // The readout weights travel unchanged (row-major [classes, hidden]).
    let w = graph.initializer.iter().find(|t| t.name.as_deref() == Some("out.weight")).unwrap();
    let values: Vec<f32> =
        w.raw_data.as_ref().unwrap().chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    assert_eq!(values, param(&m, "out.weight").unwrap());
}

#[test]
fn bad_standardization_and_unwritable_paths_are_errors() {
    let m = model(ModelConfig { hidden: 2, ..Default::default() }, 2, 2);
    let err = to_bytes(&m, &ExportOptions { standardization: Some((0.5, 0.0)) }).unwrap_err();
    assert!(matches!(err, OnnxError::BadStandardization { .. }) && !err.is_config(), "{err}");
    let err = write(&m, &ExportOptions::default(), Path::new("/nonexistent-dir/model.onnx")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent-dir"), "{err}");
}
