"""CUDA: every model kind trains on the GPU (torch paths; the C kernels are CPU-only) and gives
the CPU's metrics within float tolerance. Skipped where torch sees no CUDA device."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from superposition_lib.core import metrics
from superposition_lib.core.config import ExperimentSpec
from superposition_lib.core.train import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA device: the GPU tests are skipped")

KINDS = {
    "relu_output": {},
    "linear": {},
    "relu_hidden": {"n_hidden": 5},
    "absolute_value": {"n_hidden": 6},
    "correlated": {"data": "correlated", "set_size": 2},
    "equivariant": {"data": "equivariant", "bump_width": 1.5},
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_cuda_trains_every_model_kind_like_the_cpu(kind):
    changes = dict(KINDS[kind])
    model = kind if kind in ("relu_output", "linear", "relu_hidden", "absolute_value") \
        else "relu_output"
    spec = ExperimentSpec(model=model, n_features=10, n_hidden=changes.pop("n_hidden", 3),
                          feature_probability=[1.0, 0.3, 0.1], steps=3000, batch_size=1024,
                          snapshot_log=20, **changes)
    cpu, gpu = train(spec, progress=False), train(spec, device="cuda", progress=False)
    assert gpu.W.shape == cpu.W.shape and np.all(np.isfinite(gpu.W))
    np.testing.assert_allclose(gpu.loss, cpu.loss, rtol=0.05, atol=1e-4)
    np.testing.assert_allclose(metrics.dimensions_per_feature(gpu.W),
                               metrics.dimensions_per_feature(cpu.W), rtol=0.05, atol=0.02)
    assert gpu.snapshots.W.shape == cpu.snapshots.W.shape
