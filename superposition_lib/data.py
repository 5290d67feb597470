"""Feature distributions (Elhage et al. 2022, section "Demonstrating superposition").

Every distribution turns one uniform number per feature into a sample, for all models at once.
The paper's notebook draws presence and magnitude of a feature as two uniforms; one uniform ``u``
carries both: the feature is present iff ``u < p`` and then ``1 − u/p`` is Uniform(0, 1], because
``u`` conditioned on ``u < p`` is Uniform[0, p). This halves the random numbers per step, the most
expensive part of training these small models (``tests/test_data.py`` checks that the two
definitions give the same distribution).

- ``sparse_uniform``: feature i is 0 with probability S = 1 − p, else Uniform(0, 1].
- ``correlated``: sets of ``set_size`` consecutive features; the whole set is zero with
  probability 1 − p (decided by the set's first uniform), otherwise every member is an
  independent Uniform(0, 1].
- ``anticorrelated``: the whole set is zero with probability 1 − p; otherwise exactly one member,
  chosen uniformly (from the set's second uniform), is Uniform(0, 1] and the rest are 0.
- ``signed_uniform``: feature i is 0 with probability 1 − p, else Uniform[−1, 1); the
  absolute-value task's input (the target is ``|x|``).

Shapes: ``models`` is the number of models trained together (instances × restarts), ``batch`` the
samples per step, ``n`` the number of features.
"""

from __future__ import annotations

import numpy as np
import torch

from .config import ExperimentSpec
from .kernels import fill_sparse_uniform, fill_uniform, in_halves


class FeatureDistribution:
    """The data distribution of every model of a spec.

    Parameters
    ----------
    kind : str
        One of ``config.DATA``.
    probability : array_like, shape (models, n)
        Probability that each feature (or, for sets, each set) is active. For sets it must be
        equal within each set.
    set_size : int, optional
        Size of correlated or anticorrelated sets of consecutive features.
    device : str or torch.device
        Where samples are transformed (uniforms are moved there by the caller).

    Examples
    --------
    >>> dist = FeatureDistribution("sparse_uniform", [[0.5, 0.5, 0.5]])
    >>> x = dist.sample(4, torch.Generator().manual_seed(0))
    >>> x.shape
    torch.Size([1, 4, 3])
    >>> bool(((x >= 0) & (x <= 1)).all())
    True
    """

    def __init__(self, kind: str, probability, set_size: int | None = None,
                 device: str | torch.device = "cpu"):
        self.kind = kind
        self.probability = torch.as_tensor(np.asarray(probability, dtype=np.float32),
                                           device=device)
        if self.probability.ndim != 2:
            raise ValueError(f"probability: expected shape (models, n), got "
                             f"{tuple(self.probability.shape)}")
        self.n_models, self.n_features = self.probability.shape
        self.set_size = set_size
        if kind in ("correlated", "anticorrelated"):
            sets = self.probability.reshape(self.n_models, -1, set_size)
            if not torch.all(sets == sets[..., :1]):
                raise ValueError("feature_probability: must be equal within each "
                                 f"{kind} set of {set_size} features")
        # The sample is relu(1 − u/p): presence iff u < p, magnitude 1 − u/p ∈ (0, 1].
        self._neg_inv_p = (-1.0 / self.probability).unsqueeze(1)  # (models, 1, n)
        self._one = torch.ones((), device=device)
        self._inv_p = (1.0 / self.probability).cpu().numpy()                # (models, n)

    @classmethod
    def from_spec(cls, spec: ExperimentSpec, device: str | torch.device = "cpu"
                  ) -> FeatureDistribution:
        """The distribution of every model of a spec.

        Parameters
        ----------
        spec : ExperimentSpec
            Its instances are repeated ``restarts`` times, as models are.
        device : str or torch.device

        Returns
        -------
        FeatureDistribution

        Examples
        --------
        >>> spec = ExperimentSpec(n_features=4, feature_probability=[1.0, 0.1], restarts=3)
        >>> FeatureDistribution.from_spec(spec).probability.shape
        torch.Size([6, 4])
        """
        prob = np.repeat(spec.feature_probability_array(), spec.restarts, axis=0)
        return cls(spec.data, prob, spec.set_size, device)

    # ------------------------------------------------------------------------------------------
    def transform(self, u: torch.Tensor) -> torch.Tensor:
        """Turn uniforms into a sample, in place.

        Parameters
        ----------
        u : Tensor, shape (models, batch, n)
            Independent Uniform[0, 1) numbers, float32; overwritten.

        Returns
        -------
        Tensor, shape (models, batch, n)
            The sample (``u`` itself).
        """
        if self.kind == "sparse_uniform":
            return torch.addcmul(self._one, u, self._neg_inv_p, out=u).relu_()
        if self.kind == "signed_uniform":
            w = torch.addcmul(self._one, u, self._neg_inv_p)  # present iff w > 0, w ~ U(0, 1]
            return torch.where(w > 0, 2 * w - 1, torch.zeros((), device=u.device), out=u)
        k = self.set_size
        sets = u.view(*u.shape[:2], -1, k)                                # (models, batch, sets, k)
        p = self.probability.view(self.n_models, 1, -1, k)[..., 0]        # (models, 1, sets)
        first = sets[..., 0]
        active = first < p
        if self.kind == "correlated":
            first.mul_(-1 / p).add_(1)
            sets.mul_(active.unsqueeze(-1))
            return u
        chosen = (sets[..., 1] * k).long().clamp_(max=k - 1)               # (models, batch, sets)
        magnitude = torch.where(active, 1 - first / p, 0.0)
        sets.zero_()
        sets.scatter_(-1, chosen.unsqueeze(-1), magnitude.unsqueeze(-1))
        return u

    def draw(self, stream: UniformStream) -> torch.Tensor:
        """The next training batch from a :class:`UniformStream` (fused for sparse uniform data
        on the CPU).

        Parameters
        ----------
        stream : UniformStream
            Of shape (models, batch, n); its buffer is reused by the next draw.

        Returns
        -------
        Tensor, shape (models, batch, n), on this distribution's device
        """
        if self.kind == "sparse_uniform" and self.probability.device.type == "cpu":
            return stream.next_sparse_uniform(self._inv_p)
        return self.transform(stream.next().to(self.probability.device))

    def sample(self, batch_size: int, generator: torch.Generator | np.random.Generator
               ) -> torch.Tensor:
        """Draw a batch for every model.

        Parameters
        ----------
        batch_size : int
            Samples per model.
        generator : torch.Generator or numpy.random.Generator
            Source of the uniforms.

        Returns
        -------
        Tensor, shape (models, batch_size, n), float32
        """
        shape = (self.n_models, batch_size, self.n_features)
        if isinstance(generator, torch.Generator):
            u = torch.rand(shape, generator=generator)
        else:
            u = torch.from_numpy(generator.random(shape, dtype=np.float32))
        return self.transform(u.to(self.probability.device))

    def target(self, x: torch.Tensor) -> torch.Tensor:
        """What the model should output: ``|x|`` for signed data, else ``x``.

        Parameters
        ----------
        x : Tensor, shape (models, batch, n)

        Returns
        -------
        Tensor, shape (models, batch, n)

        Examples
        --------
        >>> FeatureDistribution("signed_uniform", [[0.5]]).target(torch.tensor([[[-0.25]]]))
        tensor([[[0.2500]]])
        """
        return x.abs() if self.kind == "signed_uniform" else x

    # ------------------------------------------------------------------------------------------
    def mean(self) -> torch.Tensor:
        """Exact mean of every feature, shape (models, n), float64."""
        p = self.probability.double()
        if self.kind == "signed_uniform":
            return torch.zeros_like(p)
        if self.kind == "anticorrelated":
            return p / (2 * self.set_size)
        return p / 2

    def covariance(self) -> torch.Tensor:
        """Exact covariance matrix of the features, shape (models, n, n), float64.

        For sparse uniform features the variance is p/3 − p²/4; correlated set members share
        presence, so their covariance is p/4 − p²/4; anticorrelated members are never active
        together, so theirs is −(p/2k)² for sets of k.
        """
        p = self.probability.double()                                    # (models, n)
        k = self.set_size or 1
        n = self.n_features
        eye = torch.eye(n, dtype=p.dtype, device=p.device)
        # E[x_i x_j] for i ≠ j in one set: members of a correlated set are active together
        # (E = p/4); anticorrelated members never are (E = 0).
        pair = p.unsqueeze(-1) / 4 if self.kind == "correlated" else torch.zeros_like(p)[..., None]
        square = p / 3 / (k if self.kind == "anticorrelated" else 1)       # E[x_i²]
        second = pair * (1 - eye) + torch.diag_embed(square)
        mean = self.mean()
        same_set = _same_set(n, k, p.device)  # features of different sets are independent
        return same_set * (second - mean.unsqueeze(-1) * mean.unsqueeze(-2))


def _same_set(n: int, k: int, device) -> torch.Tensor:
    """(n, n) float64 indicator that features i and j belong to the same set of size k."""
    s = torch.arange(n, device=device) // k
    return (s.unsqueeze(0) == s.unsqueeze(1)).double()


class UniformStream:
    """Fast, reproducible float32 uniforms for the trainer.

    Draws successive blocks of the counter-based stream of :mod:`superposition_lib.kernels`
    (SplitMix64 over a counter, compiled C). Large draws are filled by two threads, each writing
    half of the rows; since every number is a function of its index alone, the output depends
    only on the key and on how many numbers were drawn before, never on threading. The state is
    a single counter, which makes checkpoints trivial.

    Parameters
    ----------
    key : int
        Stream key in [0, 2**64), e.g. from ``numpy.random.SeedSequence.generate_state``.
    shape : tuple of int
        Shape of every draw, (models, batch, n).

    Examples
    --------
    >>> stream = UniformStream(key=0, shape=(2, 3, 4))
    >>> u = stream.next()
    >>> u.shape, u.dtype, stream.state()
    (torch.Size([2, 3, 4]), torch.float32, 24)
    """

    def __init__(self, key: int, shape: tuple[int, int, int]):
        self.key = int(key)
        self.offset = 0
        self.buffer = np.empty(shape, dtype=np.float32)
        self._rows = self.buffer.reshape(-1, shape[-1])

    def next(self) -> torch.Tensor:
        """Uniforms on [0, 1), shape (models, batch, n); the buffer is reused by the next call."""
        n = self._rows.shape[1]
        in_halves(lambda a, b: fill_uniform(self._rows[a:b], self.key, self.offset + a * n),
                  len(self._rows), n)
        self.offset += self.buffer.size
        return torch.from_numpy(self.buffer)

    def next_sparse_uniform(self, inv_probability: np.ndarray) -> torch.Tensor:
        """Sparse uniform features drawn in one fused pass from the same numbers as :meth:`next`.

        Equals (up to float rounding) ``FeatureDistribution("sparse_uniform", p).transform``
        applied to :meth:`next`.

        Parameters
        ----------
        inv_probability : numpy.ndarray, shape (models, n)
            float32 ``1 / p``.

        Returns
        -------
        Tensor, shape (models, batch, n)
        """
        in_halves(lambda a, b: fill_sparse_uniform(self.buffer, inv_probability, self.key,
                                                   self.offset, rows=(a, b)),
                  len(self._rows), self._rows.shape[1])
        self.offset += self.buffer.size
        return torch.from_numpy(self.buffer)

    def state(self) -> int:
        """How many numbers were drawn so far (the stream's position), for checkpoints."""
        return self.offset

    def set_state(self, state: int) -> None:
        """Continue from a position saved by :meth:`state`.

        Parameters
        ----------
        state : int
            Numbers drawn before the next draw.

        Examples
        --------
        >>> a, b = UniformStream(1, (1, 2, 2)), UniformStream(1, (1, 2, 2))
        >>> _ = a.next()
        >>> b.set_state(a.state())
        >>> bool((a.next() == b.next()).all())
        True
        """
        self.offset = int(state)
