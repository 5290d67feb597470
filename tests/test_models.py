"""Hand-written gradients agree with autograd; initialisation scales."""

import numpy as np
import pytest
import torch

from superposition_lib.core.config import ExperimentSpec
from superposition_lib.core.models import (
    ARCHITECTURES,
    Workspace,
    forward,
    init_params,
    loss_and_grads,
    per_model_loss,
)


def random_case(model: str, models=3, batch=32, n=7, m=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    params = {"W": torch.randn(models, m, n, generator=g, dtype=torch.float64),
              "b": 0.2 * torch.randn(models, n, generator=g, dtype=torch.float64)}
    if not ARCHITECTURES[model].tied:
        params["W_out"] = torch.randn(models, n, m, generator=g, dtype=torch.float64)
    x = torch.rand(models, batch, n, generator=g, dtype=torch.float64)
    x = torch.where(x < 0.5, 0.0, x)
    if model == "absolute_value":
        x = x * torch.where(torch.rand(x.shape, generator=g) < 0.5, -1.0, 1.0).double()
    target = x.abs()
    importance = torch.rand(models, n, generator=g, dtype=torch.float64)
    return params, x, target, importance


@pytest.mark.parametrize("model", list(ARCHITECTURES))
@pytest.mark.parametrize("use_workspace", [False, True])
def test_hand_written_gradients_match_autograd(model, use_workspace):
    params, x, target, importance = random_case(model)
    workspace = None
    if use_workspace:
        workspace = Workspace(*x.shape, params["W"].shape[1], dtype=torch.float64)
    loss, grads = loss_and_grads(params, x, target, importance, model, with_loss=True,
                                 workspace=workspace)
    leaves = {k: v.clone().requires_grad_() for k, v in params.items()}
    reference = per_model_loss(forward(leaves, x, model), target, importance)
    reference.sum().backward()
    torch.testing.assert_close(loss, reference.detach(), rtol=1e-10, atol=1e-12)
    assert set(grads) == set(params)
    for name in params:
        assert grads[name].is_contiguous()  # fused AdamW mis-updates strided gradients
        torch.testing.assert_close(grads[name], leaves[name].grad, rtol=1e-9, atol=1e-12)


def test_loss_is_importance_weighted_mean_over_batch_and_features():
    x = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    params = {"W": torch.zeros(1, 1, 2), "b": torch.zeros(1, 2)}
    loss, _ = loss_and_grads(params, x, x, torch.tensor([[1.0, 3.0]]), "relu_output", True)
    # the zero model outputs 0: errors 1 on (sample 0, feature 0) and (sample 1, feature 1)
    assert float(loss) == pytest.approx((1 * 1 + 3 * 1) / 4)


def test_forward_of_known_geometry():
    # an antipodal pair in one dimension with a negative bias filters interference
    params = {"W": torch.tensor([[[1.0, -1.0]]]), "b": torch.tensor([[-0.1, -0.1]])}
    out = forward(params, torch.tensor([[[0.8, 0.0], [0.0, 0.6]]]), "relu_output")
    torch.testing.assert_close(out, torch.tensor([[[0.7, 0.0], [0.0, 0.5]]]))
    linear = forward(params, torch.tensor([[[0.8, 0.0]]]), "linear")
    torch.testing.assert_close(linear, torch.tensor([[[0.7, -0.9]]]))


def test_xavier_init_does_not_depend_on_number_of_instances():
    def std(instances, init):
        spec = ExperimentSpec(n_features=50, n_hidden=10, init=init,
                              feature_probability=[0.5] * instances)
        return float(init_params(spec, torch.Generator().manual_seed(0))["W"].std())

    assert std(2, "xavier") == pytest.approx(np.sqrt(2 / 60), rel=0.05)
    assert std(200, "xavier") == pytest.approx(np.sqrt(2 / 60), rel=0.05)
    assert std(200, "notebook") == pytest.approx(np.sqrt(2 / (10 * 250)), rel=0.05)


def test_untied_model_has_output_weights():
    spec = ExperimentSpec(model="absolute_value", n_features=3, n_hidden=6,
                          feature_probability=[0.5])
    params = init_params(spec, torch.Generator().manual_seed(0))
    assert params["W_out"].shape == (1, 3, 6) and params["W"].shape == (1, 6, 3)


@pytest.mark.parametrize("model", ["relu_output", "linear", "relu_hidden"])
@pytest.mark.parametrize("models,batch,n,m", [(9, 1024, 2, 1), (5, 300, 5, 2), (3, 130, 32, 8),
                                               (4, 200, 33, 8), (3, 150, 20, 9),
                                               (5, 64, 120, 17), (1, 300, 40, 16)])
def test_fused_step_equals_the_general_step_on_the_same_batch(model, models, batch, n, m):
    """Same stream floats, same loss and gradients (float32 rounding), same stream position."""
    from superposition_lib.core.data import FeatureDistribution, UniformStream
    from superposition_lib.core.models import fused_sparse_uniform_step, fused_step_available

    if not fused_step_available(model, "cpu"):
        pytest.skip("no C compiler: the trainer uses the general path")
    g = torch.Generator().manual_seed(1)
    p = 0.05 + 0.95 * torch.rand(models, n, generator=g)
    dist = FeatureDistribution("sparse_uniform", p.tolist())
    params = {"W": torch.randn(models, m, n, generator=g), "b": 0.1 * torch.randn(models, n)}
    importance = torch.rand(models, n, generator=g)
    general, fused = UniformStream(7, (models, batch, n)), UniformStream(7, (models, batch, n))
    for stream in (general, fused):
        stream.set_state(12345)  # odd offsets start mid-word
    x = dist.draw(general)
    loss, grads = loss_and_grads(params, x, x, importance, model, with_loss=True)
    f_loss, f_grads = fused_sparse_uniform_step(params, fused, (1.0 / p).numpy(), importance,
                                                model, batch)
    assert fused.state() == general.state()
    torch.testing.assert_close(f_loss, loss, rtol=1e-5, atol=1e-8)
    for name in ("W", "b"):  # float32 sums in another order: errors relative to the largest
        scale = float(grads[name].abs().max())
        torch.testing.assert_close(f_grads[name], grads[name], rtol=1e-4, atol=1e-5 * scale)


def test_fused_step_is_only_offered_where_it_applies():
    from superposition_lib.core.models import fused_step_available

    assert not fused_step_available("absolute_value", "cpu")
    assert not fused_step_available("relu_output", "meta")


def test_fused_step_of_many_models_equals_each_model_alone():
    """The sparse kernel trains models in turns on two threads: the split never changes bits."""
    from superposition_lib.core.data import UniformStream
    from superposition_lib.core.models import fused_sparse_uniform_step, fused_step_available

    if not fused_step_available("relu_output", "cpu"):
        pytest.skip("no C compiler: the trainer uses the general path")
    models, batch, n, m = 5, 256, 64, 10
    g = torch.Generator().manual_seed(2)
    inv_p = (1.0 / (0.05 + 0.95 * torch.rand(models, n, generator=g))).numpy()
    params = {"W": torch.randn(models, m, n, generator=g), "b": 0.1 * torch.randn(models, n)}
    importance = torch.rand(models, n, generator=g)
    loss, grads = fused_sparse_uniform_step(params, UniformStream(3, (models, batch, n)), inv_p,
                                            importance, "relu_output", batch)
    for i in range(models):
        alone = UniformStream(3, (1, batch, n))
        alone.set_state(i * batch * n)
        one_loss, one = fused_sparse_uniform_step({k: v[i:i + 1] for k, v in params.items()},
                                                  alone, inv_p[i:i + 1], importance[i:i + 1],
                                                  "relu_output", batch)
        assert torch.equal(one_loss, loss[i:i + 1])
        assert torch.equal(one["W"], grads["W"][i:i + 1]) and torch.equal(one["b"],
                                                                           grads["b"][i:i + 1])


def test_init_scale_multiplies_each_instances_initial_weights():
    from superposition_lib import ExperimentSpec
    from superposition_lib.core.models import init_params

    base = ExperimentSpec(n_features=6, n_hidden=3, feature_probability=[0.1, 0.1], restarts=2)
    scaled = base.replace(init_scale=[1.0, 0.1])
    assert base.key() == base.replace(init_scale=1.0).key() != scaled.key()
    a, b = (init_params(s, torch.Generator().manual_seed(0))["W"] for s in (base, scaled))
    assert torch.equal(a[:2], b[:2])  # instance 0, both restarts
    torch.testing.assert_close(b[2:], 0.1 * a[2:])
    with pytest.raises(ValueError, match="init_scale: must be a number > 0"):
        base.replace(init_scale=[1.0, -1.0])
    with pytest.raises(ValueError, match="init_scale: a list needs one value per instance"):
        base.replace(init_scale=[1.0, 0.5, 0.1])
