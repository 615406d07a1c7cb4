#!/usr/bin/env python3
"""Writes crates/trainer/tests/golden/optim.json: the first steps of PyTorch's
optimisers, gradient clipping and learning-rate schedulers, for the Rust golden
tests in crates/trainer/tests/golden.rs.

Run once with the project's venv (PyTorch 2.13.0):
    ~/.cache/lstm-mnist/venv/bin/python scripts/optim-golden.py
The output is deterministic; commit it with this script.
"""
import json
import math
import os

import torch

torch.manual_seed(1234)
STEPS = 5
SHAPES = [[3, 4], [4]]
PARAMS = [torch.randn(s) for s in SHAPES]
GRADS = [[torch.randn(s) for s in SHAPES] for _ in range(STEPS)]


def flat(ts):
    return [t.detach().reshape(-1).tolist() for t in ts]


def run(make):
    params = [p.clone().requires_grad_(True) for p in PARAMS]
    opt = make(params)
    after = []
    for grads in GRADS:
        for p, g in zip(params, grads):
            p.grad = g.clone()
        opt.step()
        after.append(flat(params))
    return after


LR = 0.01
CASES = [
    ("adam", {"name": "adam"}, lambda ps: torch.optim.Adam(ps, lr=LR)),
    ("adam_wd", {"name": "adam", "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.1},
     lambda ps: torch.optim.Adam(ps, lr=LR, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("adamw", {"name": "adamw", "weight_decay": 0.05},
     lambda ps: torch.optim.AdamW(ps, lr=LR, weight_decay=0.05)),
    ("sgd", {"name": "sgd"}, lambda ps: torch.optim.SGD(ps, lr=LR)),
    ("sgd_momentum", {"name": "sgd", "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01},
     lambda ps: torch.optim.SGD(ps, lr=LR, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("sgd_nesterov", {"name": "sgd", "momentum": 0.9, "nesterov": True},
     lambda ps: torch.optim.SGD(ps, lr=LR, momentum=0.9, nesterov=True)),
    ("rmsprop", {"name": "rmsprop"}, lambda ps: torch.optim.RMSprop(ps, lr=LR)),
    ("rmsprop_centered_momentum", {"name": "rmsprop", "alpha": 0.9, "momentum": 0.5, "centered": True, "weight_decay": 0.01},
     lambda ps: torch.optim.RMSprop(ps, lr=LR, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.01)),
]

optimizers = [{"case": name, "config": cfg, "lr": LR, "after": run(make)} for name, cfg, make in CASES]

clip = []
for max_norm in [0.5, 100.0]:
    ps = [p.clone().requires_grad_(True) for p in PARAMS]
    for p, g in zip(ps, GRADS[0]):
        p.grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
    clip.append({"max_norm": max_norm, "total_norm": total.item(), "grads": flat([p.grad for p in ps])})


def lrs(make, n):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    sched = make(opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


N = 20
schedules = [
    {"config": {"name": "step", "step_size": 6, "gamma": 0.5}, "steps": N,
     "lr": lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=6, gamma=0.5), N)},
    {"config": {"name": "cosine", "min_lr": 0.001}, "steps": N,
     "lr": lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=N - 1, eta_min=0.001), N)},
    {"config": {"name": "one-cycle", "pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0}, "steps": N,
     "lr": lrs(lambda o: torch.optim.lr_scheduler.OneCycleLR(
         o, max_lr=0.1, total_steps=N, pct_start=0.25, div_factor=10.0, final_div_factor=100.0,
         cycle_momentum=False), N)},
]

out = {
    "torch": torch.__version__,
    "params": flat(PARAMS),
    "shapes": SHAPES,
    "grads": [flat(g) for g in GRADS],
    "optimizers": optimizers,
    "clip": clip,
    "schedules": schedules,
    "schedule_base_lr": 0.1,
}
path = os.path.join(os.path.dirname(__file__), "..", "crates", "trainer", "tests", "golden", "optim.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote", os.path.normpath(path))
