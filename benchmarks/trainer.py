"""Training speed of the library's trainer against the paper's notebook loop, side by side.

The naive baseline is the training loop of the public notebook of Elhage et al. (2022): two
``torch.rand`` draws per feature (magnitude and presence), an einsum forward pass, autograd, and
``torch.optim.AdamW``. Both loops train the same models on the same workload in this process,
alternating, and the script prints steps/s and the speed-up ratio for each workload (batch 1024):

- ``intro``: ReLU output, n=5, m=2, 10 instances;
- ``uniform``: ReLU output, n=400, m=30, 20 instances;
- ``grid``: ReLU output, n=2, m=1, 9,000 instances (the size of the phase-change grid, which the
  library trains with its fused small-model kernel);
- ``relu-hidden``: ReLU hidden layer x' = ReLU(Wᵀ ReLU(Wx) + b), n=10, m=5, 256 instances
  (the privileged-basis sweep: many seeds per density);
- ``abs-value``: the untied absolute-value model y' = ReLU(W₂ ReLU(W₁x) + b) on signed inputs
  in [-1, 1], n=100, m=40, 7 instances (the paper's computation-in-superposition setting).

It first prints the CPU (every speed figure names the machine it was measured on) and the
vector extensions in use: numpy's, torch's and those of the library's C kernels. Run
``python benchmarks/trainer.py [--steps N] [--repeats R] [--only NAME]``. To measure without
AVX-512 on a CPU that has it, disable it in all three::

    NPY_DISABLE_CPU_FEATURES="AVX512_ICL X86_V4" ATEN_CPU_CAPABILITY=avx2 \
        SUPERPOSITION_KERNEL_ISA=avx2 python benchmarks/trainer.py
"""

from __future__ import annotations

import argparse
import os
import platform
import time

# Imported first, as in any program that uses the library: it sets its OpenMP defaults before
# torch loads (see superposition_lib/__init__.py); both loops below run under them.
from superposition_lib import ExperimentSpec, kernels, train  # isort: skip

import numpy as np
import torch

WORKLOADS = {
    "intro": dict(model="relu_output", n_features=5, n_hidden=2, instances=10,
                  importance=[0.9 ** i for i in range(5)]),
    "uniform": dict(model="relu_output", n_features=400, n_hidden=30, instances=20,
                    importance=1.0),
    "grid": dict(model="relu_output", n_features=2, n_hidden=1, instances=9000, importance=1.0),
    "relu-hidden": dict(model="relu_hidden", n_features=10, n_hidden=5, instances=256,
                        importance=[0.75 ** i for i in range(10)]),
    "abs-value": dict(model="absolute_value", n_features=100, n_hidden=40, instances=7,
                      importance=[0.8 ** i for i in range(100)]),
}
#: Default steps per measurement of each workload.
STEPS = {"intro": 2000, "uniform": 40, "grid": 20, "relu-hidden": 200, "abs-value": 100}
BATCH = 1024


def cpu_name() -> str:
    """The CPU's model name (Linux), else what ``platform`` says."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def naive_steps_per_second(model: str, n_features: int, n_hidden: int, instances: int,
                           importance, steps: int) -> float:
    """The notebook's loop: two rand draws, einsum forward, autograd, AdamW."""
    probability = torch.tensor(20.0 ** -np.linspace(0, 1, instances), dtype=torch.float32)
    importance = torch.as_tensor(importance, dtype=torch.float32).expand(n_features)
    W = torch.nn.Parameter(torch.empty(instances, n_features, n_hidden))
    torch.nn.init.xavier_normal_(W)
    params = [W]
    if model == "absolute_value":
        W_out = torch.nn.Parameter(torch.empty(instances, n_hidden, n_features))
        torch.nn.init.xavier_normal_(W_out)
        params.append(W_out)
    b = torch.nn.Parameter(torch.zeros(instances, n_features))
    opt = torch.optim.AdamW([*params, b], lr=1e-3)

    def step() -> None:
        feat = torch.rand(BATCH, instances, n_features)
        present = torch.rand(BATCH, instances, n_features) <= probability[:, None]
        if model == "absolute_value":
            feat = 2 * feat - 1
        x = torch.where(present, feat, torch.zeros(()))
        hidden = torch.einsum("bif,ifh->bih", x, W)
        if model == "absolute_value":
            out = torch.relu(torch.einsum("bih,ihf->bif", torch.relu(hidden), W_out) + b)
            target = x.abs()
        else:
            hidden = torch.relu(hidden) if model == "relu_hidden" else hidden
            out = torch.relu(torch.einsum("bih,ifh->bif", hidden, W) + b)
            target = x
        error = importance * (target - out) ** 2
        loss = torch.einsum("bif->i", error).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - t0)


def library_steps_per_second(model: str, n_features: int, n_hidden: int, instances: int,
                             importance, steps: int) -> float:
    """The library's trainer on the same workload, timed as the notebook loop is: from the end
    of its first (warm-up) update to the end of its last, through ``train``'s callback, so that
    neither side counts its set-up, its first step or the final evaluation.

    The loss history is recorded every 20 steps, the default cadence of a 10,000-step run; the
    final loss is estimated on 1,024 samples only, since it is not timed.
    """
    spec = ExperimentSpec(model=model, n_features=n_features, n_hidden=n_hidden,
                          feature_probability=list(20.0 ** -np.linspace(0, 1, instances)),
                          importance=importance, steps=steps + 1, batch_size=BATCH,
                          history_every=20, eval_samples=1024)
    marks = {}

    def tick(step: int) -> None:
        marks.setdefault("start", time.perf_counter())    # after the warm-up update
        marks["end"] = time.perf_counter()

    train(spec, progress=False, callback=tick)
    return steps / (marks["end"] - marks["start"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per measurement (default: per workload, see STEPS)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating repeats; best kept")
    parser.add_argument("--only", choices=list(WORKLOADS), action="append",
                        help="measure only this workload (repeatable)")
    args = parser.parse_args()
    from numpy._core._multiarray_umath import __cpu_features__ as features

    wide = [f for f in ("AVX2", "AVX512F", "AVX512_SKX", "AVX512_ICL") if features.get(f)]
    print(f"CPU: {cpu_name()}; numpy SIMD: {', '.join(wide) or 'baseline only'}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{torch.backends.cpu.get_cpu_capability()}; C kernels: "
          f"{os.environ.get(kernels.ENV_ISA) or 'auto'} ({kernels.backend()}, sparse step "
          f"{kernels.sparse_instruction_set()})")
    for name in args.only or WORKLOADS:
        work, steps = WORKLOADS[name], args.steps or STEPS[name]
        naive, lib = [], []
        for _ in range(args.repeats):
            naive.append(naive_steps_per_second(**work, steps=steps))
            lib.append(library_steps_per_second(**work, steps=steps))
        print(f"{name:12s} naive {max(naive):8.1f} steps/s | library {max(lib):8.1f} steps/s | "
              f"ratio {max(lib) / max(naive):.2f}x")


if __name__ == "__main__":
    main()
