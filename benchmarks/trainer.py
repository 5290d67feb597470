"""Training speed of the library's trainer against the paper's notebook loop, side by side.

The naive baseline is the training loop of the public notebook of Elhage et al. (2022): two
``torch.rand`` draws per feature (magnitude and presence), an einsum forward pass, autograd, and
``torch.optim.AdamW``. Both loops train the same ReLU-output models on the same workload in this
process, alternating, and the script prints steps/s and the speed-up ratio for three workloads:

- ``intro``: n=5, m=2, 10 instances, batch 1024;
- ``uniform``: n=400, m=30, 20 instances, batch 1024;
- ``grid``: n=2, m=1, 9,000 instances, batch 1024 (the size of the phase-change grid, which the
  library trains with its fused small-model kernel).

Run ``python benchmarks/trainer.py [--steps N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import time

# Imported first, as in any program that uses the library: it sets its OpenMP defaults before
# torch loads (see superposition_lib/__init__.py); both loops below run under them.
from superposition_lib import ExperimentSpec, train  # isort: skip

import numpy as np
import torch

WORKLOADS = {
    "intro": dict(n_features=5, n_hidden=2, instances=10, batch_size=1024,
                  importance=[0.9 ** i for i in range(5)]),
    "uniform": dict(n_features=400, n_hidden=30, instances=20, batch_size=1024, importance=1.0),
    "grid": dict(n_features=2, n_hidden=1, instances=9000, batch_size=1024, importance=1.0),
}
#: Default steps per measurement of each workload.
STEPS = {"intro": 2000, "uniform": 40, "grid": 20}


def naive_steps_per_second(n_features: int, n_hidden: int, instances: int, batch_size: int,
                           importance, steps: int) -> float:
    """The notebook's loop: two rand draws, einsum forward, autograd, AdamW."""
    probability = torch.tensor(20.0 ** -np.linspace(0, 1, instances), dtype=torch.float32)
    importance = torch.as_tensor(importance, dtype=torch.float32).expand(n_features)
    W = torch.nn.Parameter(torch.empty(instances, n_features, n_hidden))
    torch.nn.init.xavier_normal_(W)
    b = torch.nn.Parameter(torch.zeros(instances, n_features))
    opt = torch.optim.AdamW([W, b], lr=1e-3)

    def step() -> None:
        feat = torch.rand(batch_size, instances, n_features)
        present = torch.rand(batch_size, instances, n_features) <= probability[:, None]
        x = torch.where(present, feat, torch.zeros(()))
        hidden = torch.einsum("bif,ifh->bih", x, W)
        out = torch.relu(torch.einsum("bih,ifh->bif", hidden, W) + b)
        error = importance * (x - out) ** 2
        loss = torch.einsum("bif->i", error).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps / (time.perf_counter() - t0)


def library_steps_per_second(n_features: int, n_hidden: int, instances: int, batch_size: int,
                             importance, steps: int) -> float:
    """The library's trainer on the same workload (its own wall time, excluding evaluation).

    The loss history is recorded every 20 steps, the default cadence of a 10,000-step run; the
    final loss is estimated on 1,024 samples only, since it is not timed.
    """
    spec = ExperimentSpec(n_features=n_features, n_hidden=n_hidden,
                          feature_probability=list(20.0 ** -np.linspace(0, 1, instances)),
                          importance=importance, steps=steps + 1, batch_size=batch_size,
                          history_every=20, eval_samples=1024)
    run = train(spec, progress=False)
    return (steps + 1) / run.wall_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per measurement (default: 2000 intro, 40 uniform, 20 grid)")
    parser.add_argument("--repeats", type=int, default=3, help="alternating repeats; best kept")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, work in WORKLOADS.items():
        steps = args.steps or STEPS[name]
        naive, lib = [], []
        for _ in range(args.repeats):
            naive.append(naive_steps_per_second(**work, steps=steps))
            lib.append(library_steps_per_second(**work, steps=steps))
        print(f"{name:8s} naive {max(naive):8.1f} steps/s | library {max(lib):8.1f} steps/s | "
              f"ratio {max(lib) / max(naive):.2f}x")


if __name__ == "__main__":
    main()
