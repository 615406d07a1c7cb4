//! Prototype for issue 6: times variants of the notebook's training step on
//! the real sample data, using only the library crates' public API, to find
//! what would make `trainer` faster. Not part of the product; see README
//! "Performance" for the figures.
//!
//! ```sh
//! . scripts/env.sh && cargo run --release --example perf_variants -- VARIANT [STEPS] [WARMUP] [THREADS]
//! ```
//!
//! Variants:
//! * `trainer` — `trainer::train` as shipped (extra eval-mode forward of the
//!   minibatch on every display step, as the notebook does);
//! * `reuse` — the same loop written out, but display steps take loss and
//!   accuracy from the step's own logits (no extra forward);
//! * `silent` — the same loop with no display work at all (lower bound);
//! * `bf16` — `silent`, but the LSTM runs in bfloat16: input and LSTM weights
//!   cast to bf16 inside the graph (fp32 master weights get fp32 gradients
//!   through the casts, as CPU autocast does), readout in fp32;
//! * `bf16-accuracy` / `fp32-accuracy` — train STEPS steps from scratch with
//!   `bf16` / `silent` and print the test accuracy.

use std::time::Instant;

use lstm_model::{LstmClassifier, ModelConfig, ModelSpec};
use tch::nn::OptimizerConfig;
use tch::{nn, Device, Kind, Reduction, Tensor};

fn logits(model: &LstmClassifier, x: &Tensor, bf16: bool) -> Tensor {
    if !bf16 {
        return model.forward_t(x, true).expect("forward");
    }
    let vars = model.var_store().variables();
    let w: Vec<Tensor> = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
        .iter()
        .map(|n| vars[&format!("lstm.{n}")].to_kind(Kind::BFloat16))
        .collect();
    let x = x.to_kind(Kind::BFloat16);
    let h = Tensor::zeros([1, x.size()[0], w[1].size()[1]], (Kind::BFloat16, Device::Cpu));
    let (out, _, _) = x.lstm(&[&h, &h], &w.iter().collect::<Vec<_>>(), true, 1, 0.0, true, false, true);
    out.select(1, -1).to_kind(Kind::Float).linear(&vars["out.weight"], Some(&vars["out.bias"]))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let variant = args.get(1).map(String::as_str).unwrap_or("trainer").to_owned();
    let steps: i64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let warmup: i64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(20);
    let threads: i32 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(2);
    tch::set_num_threads(threads);
    let data = mnist_data::load(&mnist_data::DataConfig::default()).expect("data/mnist-sample");
    let (images, labels) = (&data.train.images, &data.train.labels);
    let spec = ModelSpec::new(ModelConfig::default(), 28, 28, data.class_names.clone());
    let model = LstmClassifier::new(spec, Device::Cpu).expect("model");
    let batch = 128i64;

    if variant == "trainer" {
        let config = |k: i64| trainer::TrainConfig { training_iters: Some(k * batch + 1), ..Default::default() };
        let split = || trainer::Split { images, labels };
        let options = trainer::Options::default();
        trainer::train(&model, split(), None, &config(warmup), &mut std::io::sink(), &options).expect("train");
        let s = trainer::train(&model, split(), None, &config(steps), &mut std::io::sink(), &options).expect("train");
        println!(
            "{{\"variant\":\"trainer\",\"threads\":{threads},\"samples_per_second\":{:.1}}}",
            s.samples_per_second
        );
        return;
    }

    let bf16 = variant.starts_with("bf16");
    let accuracy_run = variant.ends_with("-accuracy");
    let mut opt = nn::Adam::default().build(model.var_store(), 1e-3).expect("adam");
    let mut order = trainer::BatchOrder::new(images.size()[0] as usize, 0);
    let mut step_loop = |n: i64, first: i64| {
        for step in first..first + n {
            let index = Tensor::from_slice(&order.next_batch(batch as usize));
            let (x, y) = (images.index_select(0, &index), labels.index_select(0, &index));
            let logits = logits(&model, &x, bf16);
            let loss = logits.cross_entropy_loss::<Tensor>(&y, None, Reduction::Mean, -100, 0.0);
            opt.backward_step(&loss);
            if variant == "reuse" && step % 10 == 0 {
                let acc = logits.argmax(-1, false).eq_tensor(&y).mean(Kind::Float).double_value(&[]);
                std::hint::black_box((loss.double_value(&[]), acc));
            }
        }
    };
    if accuracy_run {
        let start = Instant::now();
        step_loop(steps, 1);
        let seconds = start.elapsed().as_secs_f64();
        let report =
            eval::evaluate(&model, &data.test.images, &data.test.labels, &eval::EvalConfig::default()).expect("eval");
        println!(
            "{{\"variant\":\"{variant}\",\"steps\":{steps},\"train_seconds\":{seconds:.2},\"test_accuracy\":{}}}",
            report.accuracy
        );
        return;
    }
    step_loop(warmup, 1);
    let start = Instant::now();
    step_loop(steps, warmup + 1);
    let sps = (steps * batch) as f64 / start.elapsed().as_secs_f64();
    println!("{{\"variant\":\"{variant}\",\"threads\":{threads},\"samples_per_second\":{sps:.1}}}");
}
