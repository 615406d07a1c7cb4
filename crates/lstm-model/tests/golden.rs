//! Agreement with PyTorch: every fixture under `tests/fixtures/golden/` is a
//! model folder written by `scripts/golden_model.py` from PyTorch's own
//! `nn.LSTM`/`nn.GRU` + `nn.Linear`, with the images and the logits PyTorch
//! computed for them. Loading the folder must rebuild the same model.

use std::path::Path;

use lstm_model::LstmClassifier;
use tch::{Device, Tensor};

#[test]
fn logits_agree_with_pytorch_for_every_expressible_combination() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
    let mut folders: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).collect();
    folders.sort();
    // 2 cells x 2 depths x 2 directions x 2 readouts over rows, and two pixel layouts.
    assert_eq!(folders.len(), 18, "{folders:?}");
    let mut seen = std::collections::BTreeSet::new();
    for folder in folders {
        let model = LstmClassifier::load(&folder, Device::Cpu).unwrap();
        let c = &model.spec().config;
        seen.insert(format!("{:?} {} {} {:?}", c.cell, c.layers, c.bidirectional, c.readout));
        let io: std::collections::HashMap<String, Tensor> =
            Tensor::read_safetensors(folder.join("io.safetensors")).unwrap().into_iter().collect();
        let got = model.forward(&io["x"]).unwrap();
        let want = &io["logits"];
        assert_eq!(got.size(), want.size());
        let diff = (&got - want).abs().max().double_value(&[]);
        assert!(diff <= 1e-5, "{}: max |rust - pytorch| = {diff:e}", folder.display());
    }
    assert_eq!(seen.len(), 16, "every cell x layers x bidirectional x readout combination");
}

/// Agreement with PyTorch's `pack_padded_sequence` on a batch of mixed
/// lengths whose padding holds garbage: every fixture under
/// `tests/fixtures/golden-packed/` (written by `scripts/golden_packed.py`).
#[test]
fn logits_with_lengths_agree_with_pytorch_packed_sequences() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden-packed");
    let mut folders: Vec<_> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).collect();
    folders.sort();
    // 2 cells x 2 depths x 2 directions x 2 readouts.
    assert_eq!(folders.len(), 16, "{folders:?}");
    for folder in folders {
        let model = LstmClassifier::load(&folder, Device::Cpu).unwrap();
        let io: std::collections::HashMap<String, Tensor> =
            Tensor::read_safetensors(folder.join("io.safetensors")).unwrap().into_iter().collect();
        let got = model.forward_sequences(&io["x"], Some(&io["lengths"])).unwrap();
        let want = &io["logits"];
        assert_eq!(got.size(), want.size());
        let diff = (&got - want).abs().max().double_value(&[]);
        assert!(diff <= 1e-5, "{}: max |rust - pytorch| = {diff:e}", folder.display());
    }
}
