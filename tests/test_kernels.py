"""The counter-based uniform generator: C kernel vs numpy reference, chunking, statistics."""

import os
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

from superposition_lib.core import kernels
from superposition_lib.core.kernels import backend, fill_uniform, numpy_fill_uniform


@pytest.fixture
def c_backend():
    if backend() != "c":
        pytest.skip("the C kernel could not be built here")


def draw(n, key=0, offset=0, fill=fill_uniform):
    return fill(np.empty(n, np.float32), key, offset)


def splitmix64_float(key, k):
    """Float k of stream key, from the definition with Python integers."""
    mask = 2 ** 64 - 1
    z = (key + (k // 2 + 1) * 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    z ^= z >> 31
    return (z >> 40 if k % 2 == 0 else (z >> 8) & 0xFFFFFF) / 2 ** 24


def test_splitmix64_reference_value():
    # SplitMix64 seeded with 0 first outputs 0xE220A8397B1DCDAF: counter 0 of key 0.
    assert splitmix64_float(0, 0) == 0xE220A8 / 2 ** 24
    assert splitmix64_float(0, 1) == 0x7B1DCD / 2 ** 24


@pytest.mark.parametrize("fill", [fill_uniform, numpy_fill_uniform])
@pytest.mark.parametrize("key,offset", [(0, 0), (12345, 2 ** 40 + 3), (2 ** 64 - 1, 7)])
def test_matches_python_definition(fill, key, offset):
    expected = [splitmix64_float(key, offset + j) for j in range(9)]
    assert draw(9, key, offset, fill).tolist() == expected


@pytest.mark.parametrize("key", [0, 1, 12345, 2 ** 64 - 1])
@pytest.mark.parametrize("offset", [0, 1, 2, 7, 2 ** 40 + 3])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 17, 1000, 4097, 300_001])  # > 2 numpy blocks
def test_c_matches_numpy_bit_for_bit(c_backend, key, offset, n):
    c, ref = draw(n, key, offset), draw(n, key, offset, numpy_fill_uniform)
    assert np.array_equal(c.view(np.uint32), ref.view(np.uint32))


@pytest.mark.parametrize("fill", [fill_uniform, numpy_fill_uniform])
@pytest.mark.parametrize("offset,split", [(0, 500), (0, 333), (5, 1), (5, 250), (8, 999)])
def test_chunks_equal_one_fill(fill, offset, split):
    whole = draw(1000, 42, offset, fill)
    buf = np.empty(1000, np.float32)
    fill(buf[:split], 42, offset)
    fill(buf[split:], 42, offset + split)
    assert np.array_equal(buf, whole)


def test_threads_on_halves_equal_one_fill():
    n = 100_001
    buf = np.empty(n, np.float32)
    h = n // 2
    t = threading.Thread(target=fill_uniform, args=(buf[:h], 3, 10))
    t.start()
    fill_uniform(buf[h:], 3, 10 + h)
    t.join()
    assert np.array_equal(buf, draw(n, 3, 10))


def test_any_shape_is_filled_in_c_order():
    assert np.array_equal(fill_uniform(np.empty((3, 4, 5), np.float32), 9, 4).ravel(),
                          draw(60, 9, 4))


def test_keys_give_different_streams():
    streams = [draw(1000, key) for key in (0, 1, 2, 2 ** 63)]
    for i in range(len(streams)):
        for j in range(i):
            assert np.mean(streams[i] == streams[j]) < 0.01


def test_statistics():
    u = draw(1_000_000, key=2024).astype(np.float64)
    assert u.min() >= 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / u.size)
    assert abs(u.var() - 1 / 12) < 1e-3
    counts = np.bincount((u * 100).astype(np.int64), minlength=100)
    chi2 = (((counts - u.size / 100) ** 2) / (u.size / 100)).sum()
    assert chi2 < 150  # 99 degrees of freedom: P(chi2 > 150) < 0.001
    lag1 = np.corrcoef(u[:-1], u[1:])[0, 1]
    assert abs(lag1) < 5 / np.sqrt(u.size)


def test_falls_back_to_numpy_and_warns(monkeypatch, tmp_path):
    monkeypatch.setattr(kernels, "_c_lib", None)
    monkeypatch.setenv("SUPERPOSITION_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", "superposition-no-such-compiler")
    with pytest.warns(RuntimeWarning, match="numpy fallback.*slower"):
        out = draw(101, 5, 3)
    assert backend() == "numpy"
    assert np.array_equal(out, draw(101, 5, 3, numpy_fill_uniform))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        draw(10)  # warned once only


def test_builds_into_cache_atomically(monkeypatch, tmp_path):
    monkeypatch.setattr(kernels, "_c_lib", None)
    monkeypatch.setenv("SUPERPOSITION_CACHE", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if backend() != "c":
            pytest.skip("the C kernel could not be built here")
    assert [p.name for p in tmp_path.iterdir()] == [
        next(tmp_path.glob("_kernels-*.so")).name]  # no temporary files left behind


def test_the_cache_follows_xdg_cache_home_like_the_store(monkeypatch, tmp_path):
    """``$SUPERPOSITION_CACHE``, else ``$XDG_CACHE_HOME/superposition``, else
    ``~/.cache/superposition``: the directory of the store's ad-hoc runs."""
    from superposition_lib.core.store import user_root

    monkeypatch.delenv("SUPERPOSITION_CACHE", raising=False)
    monkeypatch.delenv("SUPERPOSITION_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert kernels._cache_dir() == tmp_path / "xdg" / "superposition" == user_root()
    monkeypatch.setenv("XDG_CACHE_HOME", "")  # empty: unset, as the XDG specification says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert kernels._cache_dir() == tmp_path / "home" / ".cache" / "superposition" == user_root()
    monkeypatch.setenv("SUPERPOSITION_CACHE", str(tmp_path / "own"))
    assert kernels._cache_dir() == tmp_path / "own"


@pytest.mark.parametrize("fill", [fill_uniform, numpy_fill_uniform])
@pytest.mark.parametrize("out,match", [
    (np.empty(4), "out must be a float32"),
    ([0.0] * 4, "out must be a float32"),
    (np.empty((4, 4), np.float32)[:, 0], "out must be C-contiguous"),
    (np.empty((4, 4), np.float32).T, "out must be C-contiguous"),
    (np.frombuffer(bytes(16), np.float32), "out must be writeable"),
])
def test_bad_out_raises(fill, out, match):
    with pytest.raises(ValueError, match=match):
        fill(out, 0, 0)


@pytest.mark.parametrize("key,offset,match", [(-1, 0, "key"), (2 ** 64, 0, "key"),
                                              (0, -2, "offset"), (0, 2 ** 63, "offset")])
def test_bad_key_or_offset_raises(key, offset, match):
    with pytest.raises(ValueError, match=match):
        fill_uniform(np.empty(4, np.float32), key, offset)


#: Trains small models on the small-model kernel and runs the sparse kernel on larger ones, and
#: saves what they give and which instantiation of the sparse kernel ran, for the test below.
_TRAIN_SCRIPT = """
import sys
import numpy as np
import torch
from superposition_lib import ExperimentSpec, train
from superposition_lib.core import kernels
from superposition_lib.core.data import UniformStream
from superposition_lib.core.models import fused_sparse_uniform_step
assert kernels.backend() == "c"
specs = [ExperimentSpec(n_features=5, n_hidden=2, feature_probability=[1.0, 0.1], steps=100,
                        batch_size=256),
         ExperimentSpec(model="relu_hidden", n_features=10, n_hidden=5,
                        feature_probability=[0.3, 0.03], steps=100, batch_size=256)]
arrays = {}
for i, spec in enumerate(specs):
    run = train(spec, progress=False)
    arrays.update({f"W{i}": run.W, f"b{i}": run.b, f"history{i}": run.history_loss})
g = torch.Generator().manual_seed(0)
params = {"W": 0.1 * torch.randn(3, 20, 100, generator=g),
          "b": 0.1 * torch.randn(3, 100, generator=g)}
inv_p = np.array([1.0, 5.0, 50.0], np.float32).repeat(100).reshape(3, 100)
for model in ("relu_output", "relu_hidden", "linear"):
    loss, grads = fused_sparse_uniform_step(params, UniformStream(1, (3, 256, 100)), inv_p,
                                            torch.ones(3, 100), model, 256)
    arrays.update({f"{model}_loss": loss.numpy(), **{f"{model}_{k}": v.numpy()
                                                     for k, v in grads.items()}})
np.savez(sys.argv[1], isa=kernels.sparse_instruction_set(), **arrays)
"""


@pytest.mark.skipif(backend() != "c", reason="no C compiler: the numpy fallback is tested above")
def test_every_vector_extension_level_gives_the_same_bits(tmp_path):
    """The AVX-512, AVX2 and baseline builds of the kernels compute identical steps."""
    results = {}
    for level in kernels.ISA_LEVELS:
        out = tmp_path / f"{level}.npz"
        subprocess.run([sys.executable, "-c", _TRAIN_SCRIPT, str(out)], check=True,
                       env={**os.environ, kernels.ENV_ISA: level})
        results[level] = dict(np.load(out))
    isa = {level: str(results[level].pop("isa")) for level in results}
    assert isa["baseline"] == "baseline"  # each level ran the widest instantiation it allows
    assert isa["avx2"] == ("baseline" if isa["auto"] == "baseline" else "avx2")
    for level in ("avx2", "baseline"):
        for name, value in results["auto"].items():
            np.testing.assert_array_equal(results[level][name], value, err_msg=f"{level} {name}")


def test_an_unknown_vector_extension_level_is_refused(monkeypatch):
    monkeypatch.setenv(kernels.ENV_ISA, "avx1024")
    with pytest.raises(ValueError, match="SUPERPOSITION_KERNEL_ISA: must be one of auto, avx2, "
                                         "baseline; got 'avx1024'"):
        kernels._flags()
