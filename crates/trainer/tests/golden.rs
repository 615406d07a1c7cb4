//! Golden tests: the optimisers, gradient clipping and schedules against
//! PyTorch 2.13.0's, from fixtures written by `scripts/optim-golden.py`.

use serde_json::Value;
use tch::{nn, Device, Kind, Tensor};
use trainer::{Optimizer, OptimizerConfig, Schedule, ScheduleConfig};

fn fixture() -> Value {
    serde_json::from_str(include_str!("golden/optim.json")).unwrap()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

/// A VarStore holding the fixture's parameters, named so that they sort in
/// the fixture's order.
fn params(fx: &Value) -> (nn::VarStore, Vec<Tensor>) {
    let vs = nn::VarStore::new(Device::Cpu);
    let mut vars = Vec::new();
    for (i, (values, shape)) in
        fx["params"].as_array().unwrap().iter().zip(fx["shapes"].as_array().unwrap()).enumerate()
    {
        let shape: Vec<i64> = shape.as_array().unwrap().iter().map(|d| d.as_i64().unwrap()).collect();
        let init = Tensor::from_slice(&floats(values)).reshape(&shape);
        vars.push(vs.root().var_copy(&format!("p{i}"), &init));
    }
    (vs, vars)
}

fn set_grads(vars: &[Tensor], grads: &Value) {
    for (var, g) in vars.iter().zip(grads.as_array().unwrap()) {
        let mut grad = var.grad();
        if !grad.defined() {
            // Create the gradient buffer with a backward pass, then overwrite it.
            (var * 0.0).sum(Kind::Float).backward();
            grad = var.grad();
        }
        tch::no_grad(|| grad.copy_(&Tensor::from_slice(&floats(g)).reshape(var.size())));
    }
}

fn assert_close(got: &Tensor, want: &[f32], what: &str) {
    let got: Vec<f32> = Vec::try_from(got.reshape([-1])).unwrap();
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        assert!((a - b).abs() <= 1e-6 + 1e-5 * b.abs(), "{what}[{i}]: {a} vs PyTorch {b}");
    }
}

#[test]
fn optimisers_take_pytorchs_first_steps() {
    let fx = fixture();
    let grads = fx["grads"].as_array().unwrap();
    for case in fx["optimizers"].as_array().unwrap() {
        let name = case["case"].as_str().unwrap();
        let config: OptimizerConfig = serde_json::from_value(case["config"].clone()).unwrap();
        let (vs, vars) = params(&fx);
        let mut opt = Optimizer::new(config, &vs).unwrap();
        let lr = case["lr"].as_f64().unwrap();
        for (step, (g, after)) in grads.iter().zip(case["after"].as_array().unwrap()).enumerate() {
            opt.zero_grad();
            set_grads(&vars, g);
            opt.step(lr).unwrap();
            for (i, (var, want)) in vars.iter().zip(after.as_array().unwrap()).enumerate() {
                assert_close(var, &floats(want), &format!("{name} step {} param {i}", step + 1));
            }
        }
        assert_eq!(opt.steps(), 5);
    }
}

#[test]
fn clipping_matches_clip_grad_norm() {
    let fx = fixture();
    for case in fx["clip"].as_array().unwrap() {
        let (vs, vars) = params(&fx);
        let opt = Optimizer::new(OptimizerConfig::default(), &vs).unwrap();
        set_grads(&vars, &fx["grads"][0]);
        let total = opt.clip_grad_norm(case["max_norm"].as_f64().unwrap()).unwrap();
        assert!((total - case["total_norm"].as_f64().unwrap()).abs() < 1e-5, "{total} vs {}", case["total_norm"]);
        for (i, (var, want)) in vars.iter().zip(case["grads"].as_array().unwrap()).enumerate() {
            assert_close(&var.grad(), &floats(want), &format!("clip {} grad {i}", case["max_norm"]));
        }
    }
}

#[test]
fn schedules_match_pytorchs_schedulers() {
    let fx = fixture();
    let base = fx["schedule_base_lr"].as_f64().unwrap();
    for case in fx["schedules"].as_array().unwrap() {
        let config: ScheduleConfig = serde_json::from_value(case["config"].clone()).unwrap();
        let schedule = Schedule::new(config, base, case["steps"].as_i64().unwrap());
        for (i, want) in case["lr"].as_array().unwrap().iter().enumerate() {
            let (got, want) = (schedule.lr(i as i64 + 1), want.as_f64().unwrap());
            assert!((got - want).abs() < 1e-12, "{} step {}: {got} vs PyTorch {want}", case["config"], i + 1);
        }
    }
}
