"""Feature distributions (Elhage et al. 2022, section "Demonstrating superposition").

Every distribution turns one uniform number per feature into a sample, for all models at once.
The paper's notebook draws presence and magnitude of a feature as two uniforms; one uniform ``u``
carries both: the feature is present iff ``u < p`` and then ``1 − u/p`` is Uniform(0, 1], because
``u`` conditioned on ``u < p`` is Uniform[0, p). This halves the random numbers per step, the most
expensive part of training these small models (``tests/test_data.py`` checks that the two
definitions give the same distribution).

- ``sparse_uniform``: feature i is 0 with probability S = 1 − p, else Uniform(0, 1].
- ``correlated``: sets of ``set_size`` consecutive features with a presence correlation
  ``c ∈ [0, 1]`` (default 1). Per sample and set, with probability c the set is in *joint* mode:
  the whole set is zero with probability 1 − p, otherwise every member is an independent
  Uniform(0, 1]; with probability 1 − c members are present independently, each with
  probability p (as ``sparse_uniform``). Every feature has density p for every c, and the
  presence indicators of two members have correlation exactly c: c = 1 is the paper's
  correlated set, c = 0 independent features. How the set's k uniforms are used: the first,
  ``u₀``, picks the mode (joint iff ``u₀ < c``) and is then rescaled to a fresh uniform ``v₀``
  (``u₀ / c`` or ``(u₀ − c) / (1 − c)``), which decides the set's presence (joint mode) or the
  first member's (independent mode) and gives the first member's magnitude ``1 − v₀ / p``; the
  others give their member's magnitude (``1 − u`` in joint mode) or presence and magnitude
  (``1 − u/p``, independent mode). Because the float32 uniforms have 24-bit resolution, the
  first member's magnitude in joint mode takes about ``2**24 · c · p`` distinct values (as
  ``sparse_uniform`` features take ``2**24 · p``). With c = 1 the transform is the paper's
  correlated set, computed exactly as before ``correlation`` existed.
- ``anticorrelated``: the whole set is zero with probability 1 − p; otherwise exactly one member,
  chosen uniformly (from the set's second uniform), is Uniform(0, 1] and the rest are 0.
- ``signed_uniform``: feature i is 0 with probability 1 − p, else Uniform[−1, 1); the
  absolute-value task's input (the target is ``|x|``).
- ``equivariant``: continuous, rotation-equivariant features. The n features are orientations
  0, 1, …, n − 1 on a circle of circumference n. A sample is non-zero with probability p (the
  feature probability, equal for all features); it then has an orientation θ ~ Uniform[0, n)
  (continuous, in units of features) and an amplitude a ~ Uniform(0, 1], and
  ``x_j = a · g(d(j, θ) / w)`` with the circular distance ``d(j, θ) = min(|j − θ| mod n,
  n − |j − θ| mod n)``, the triangular bump ``g(t) = max(0, 1 − t)`` and half-width
  ``w = bump_width`` (in features). Presence and amplitude come from a sample's first uniform
  (``a = 1 − u₀/p``), θ from its second (``θ = n·u₁``), so n ≥ 2; the other uniforms are unused.
  Rotating θ by one feature shifts the sample by one feature, so the distribution is invariant
  under cyclic shifts and its covariance is circulant, with Fourier modes as eigenvectors.
  Why a triangle: it has compact support (a sample activates only the ≈ 2w features nearest θ,
  so features stay sparse as in the paper, and each is non-zero with probability
  ``p · min(2w, n) / n``), it is piecewise linear, so the moments below are exact, and its
  Fourier transform (a squared sinc) is non-negative, so the covariance's eigenvalues fall
  with frequency over the low frequencies without sign oscillations.
  Principal components: frequency k has eigenvalue ``λ_k = p/3 · K̂(k)`` for k ≥ 1 and
  ``λ_0 = p/3 · K̂(0) − n (p μ / 2)²`` (K̂ the DFT of the autocorrelation K below, μ the bump's
  mean below; the constant mean only lowers frequency 0), each k ≠ 0, n/2 with the two
  eigenvectors cos(2πkj/n) and sin(2πkj/n). For w > 1/2, frequency 1 has the largest
  eigenvalue of all k ≥ 1 (checked numerically for n ≤ 64 and 1/2 < w ≤ n; for w ≤ 1/2
  neighbouring bumps never overlap and all k ≥ 1 tie). The constant vector (k = 0) lies above
  it iff ``p < p* = 4 (K̂(0) − K̂(1)) / (3 n μ²) ≈ (4/3)(1 − sinc⁴(w/n))`` with
  sinc(x) = sin(πx)/(πx) (p* ≈ 0.13 for n = 16, w = 2, and p* > 1 once w ≥ n/2). So the top two
  principal components are the cos/sin pair of frequency 1 when p > p*; when p < p* the top
  one is the constant vector and the next two are that pair.

Exact moments (used by :mod:`superposition_lib.analysis.pca`): :meth:`FeatureDistribution.mean` and
:meth:`FeatureDistribution.covariance` are closed forms for every kind; for ``equivariant`` data
the bump's autocorrelation is integrated piece by piece with Simpson's rule, which is exact for
the piecewise-quadratic integrand (up to float64 rounding).

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
        One of ``fields.DATA``.
    probability : array_like, shape (models, n)
        Probability that each feature (or, for sets, each set; for ``equivariant`` data, each
        sample) is active. It must be equal within each set, and for ``equivariant`` data equal
        for all features of a model.
    set_size : int, optional
        Size of correlated or anticorrelated sets of consecutive features.
    device : str or torch.device
        Where samples are transformed (uniforms are moved there by the caller).
    correlation : float or array_like, shape (models,), optional
        Presence correlation c ∈ [0, 1] of the members of a ``correlated`` set; default 1 (the
        paper's correlated sets).
    bump_width : float or array_like, shape (models,), optional
        Half-width w > 0 of the ``equivariant`` bump, in features; required for that kind.
    joint : bool, optional
        Draw ``correlated`` sets by the rule for c = 1 (every member present with the first;
        the other members' magnitudes are their uniforms), which is only valid when every
        model has c = 1, as by default. The rule for c < 1 gives c = 1 models the same
        distribution from other numbers (one minus the uniforms); a block of models of a larger
        spec passes the whole spec's choice, so that its samples are the spec's.

    Raises
    ------
    ValueError
        If an argument is invalid; the message names it.

    Examples
    --------
    >>> dist = FeatureDistribution("sparse_uniform", [[0.5, 0.5, 0.5]])
    >>> x = dist.sample(4, torch.Generator().manual_seed(0))
    >>> x.shape
    torch.Size([1, 4, 3])
    >>> bool(((x >= 0) & (x <= 1)).all())
    True
    >>> half = FeatureDistribution("correlated", [[0.2] * 4], set_size=2, correlation=0.5)
    >>> round(float(half.covariance()[0, 0, 1]), 6)       # c · p (1 − p) / 4
    0.02
    >>> ring = FeatureDistribution("equivariant", [[0.5] * 8], bump_width=2.0)
    >>> ring.sample(3, np.random.default_rng(0)).shape
    torch.Size([1, 3, 8])
    """

    def __init__(self, kind: str, probability, set_size: int | None = None,
                 device: str | torch.device = "cpu", *, correlation=None, bump_width=None,
                 joint: bool | None = None):
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

        self.correlation = _per_model("correlation", correlation, self.n_models, 1.0)
        if np.any((self.correlation < 0) | (self.correlation > 1)):
            raise ValueError(f"correlation: values must lie in [0, 1]; got {correlation!r}")
        if kind != "correlated" and np.any(self.correlation != 1):
            raise ValueError(f"correlation: only used with kind 'correlated'; got {kind!r}")
        self._joint_only = bool(np.all(self.correlation == 1)) if joint is None else joint
        if self._joint_only and np.any(self.correlation != 1):
            raise ValueError(f"joint: only valid when every correlation is 1; got {correlation!r}")
        self._c = torch.as_tensor(self.correlation, dtype=torch.float32,
                                  device=device).view(-1, 1, 1)              # (models, 1, 1)
        self.bump_width = None
        if kind == "equivariant":
            if bump_width is None:
                raise ValueError("bump_width: required for kind 'equivariant'; a number > 0")
            self.bump_width = _per_model("bump_width", bump_width, self.n_models, None)
            if not np.all(np.isfinite(self.bump_width) & (self.bump_width > 0)):
                raise ValueError(f"bump_width: values must be finite and > 0; got {bump_width!r}")
            if self.n_features < 2:
                raise ValueError("probability: kind 'equivariant' needs n >= 2 features")
            if not torch.all(self.probability == self.probability[:, :1]):
                raise ValueError("feature_probability: must be equal for every feature of a "
                                 "model with kind 'equivariant'")
            self._inv_w = torch.as_tensor(1 / self.bump_width, dtype=torch.float32,
                                          device=device).view(-1, 1, 1)       # (models, 1, 1)
            self._positions = torch.arange(self.n_features, dtype=torch.float32, device=device)
        elif bump_width is not None:
            raise ValueError(f"bump_width: only used with kind 'equivariant'; got {kind!r}")

    @classmethod
    def from_spec(cls, spec: ExperimentSpec, device: str | torch.device = "cpu",
                  models: slice = slice(None)) -> FeatureDistribution:
        """The distribution of every model of a spec (or of a block of them).

        Parameters
        ----------
        spec : ExperimentSpec
            Its instances are repeated ``restarts`` times, as models are.
        device : str or torch.device
        models : slice
            Only these models.

        Returns
        -------
        FeatureDistribution

        Examples
        --------
        >>> spec = ExperimentSpec(n_features=4, feature_probability=[1.0, 0.1], restarts=3)
        >>> FeatureDistribution.from_spec(spec).probability.shape
        torch.Size([6, 4])
        """
        prob = np.repeat(spec.feature_probability_array(), spec.restarts, axis=0)[models]
        repeat = lambda a: None if a is None else np.repeat(a, spec.restarts)[models]  # noqa: E731
        return cls(spec.data, prob, spec.set_size, device,
                   correlation=repeat(spec.correlation_array()),
                   bump_width=repeat(spec.bump_width_array()),
                   joint=bool(np.all(spec.correlation_array() == 1)))

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
        if self.kind == "equivariant":
            return self._equivariant(u)
        k = self.set_size
        sets = u.view(*u.shape[:2], -1, k)                                # (models, batch, sets, k)
        p = self.probability.view(self.n_models, 1, -1, k)[..., 0]        # (models, 1, sets)
        first = sets[..., 0]
        if self.kind == "correlated" and not self._joint_only:
            return self._partly_correlated(u, sets, p)
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

    def _partly_correlated(self, u: torch.Tensor, sets: torch.Tensor, p: torch.Tensor
                           ) -> torch.Tensor:
        """Correlated sets with correlation c < 1 for some model (see the module docstring)."""
        c = self._c                                                        # (models, 1, 1)
        first = sets[..., 0]                                               # (models, batch, sets)
        joint = first < c
        # The mode decision leaves a fresh uniform: u/c below c, (u − c)/(1 − c) above.
        v0 = torch.where(joint, first / c.clamp_min(1e-30),
                         (first - c) / (1 - c).clamp_min(1e-30))
        present = (v0 < p).unsqueeze(-1)                                   # set presence (joint)
        rest = sets[..., 1:]
        independent = torch.addcmul(self._one, rest, (-1 / p).unsqueeze(-1)).relu_()
        together = (1 - rest) * present
        rest.copy_(torch.where(joint.unsqueeze(-1), together, independent))
        first.copy_((1 - v0 / p).relu_())
        return u

    def _equivariant(self, u: torch.Tensor) -> torch.Tensor:
        """A triangular bump at a uniform orientation (see the module docstring)."""
        n = self.n_features
        p = self.probability[:, :1].unsqueeze(1)                           # (models, 1, 1)
        amplitude = (1 - u[..., :1] / p).relu_()                           # (models, batch, 1)
        theta = u[..., 1:2] * n                                            # (models, batch, 1)
        diff = torch.remainder(self._positions - theta, n)                 # in [0, n]
        distance = torch.minimum(diff, n - diff)
        bump = torch.addcmul(self._one, distance, self._inv_w, value=-1).relu_()
        return torch.mul(bump, amplitude, out=u)

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
        """Exact mean of every feature, shape (models, n), float64.

        ``p/2`` for sparse uniform and correlated features (any correlation), ``p/(2k)`` for
        anticorrelated sets of k, 0 for signed features, and ``p/2 · μ`` for equivariant ones,
        where μ = (1/n) ∫₀ⁿ g(d(j, θ)/w) dθ is the bump's mean over orientations: w/n when
        w ≤ n/2, else 1 − n/(4w).

        Examples
        --------
        >>> mean = FeatureDistribution("equivariant", [[0.4] * 10], bump_width=2.0).mean()
        >>> round(mean[0, 0].item(), 6)       # p/2 · w/n
        0.04
        """
        p = self.probability.double()
        if self.kind == "signed_uniform":
            return torch.zeros_like(p)
        if self.kind == "anticorrelated":
            return p / (2 * self.set_size)
        if self.kind == "equivariant":
            return p / 2 * _bump_mean(self.n_features, self._widths())
        return p / 2

    def covariance(self) -> torch.Tensor:
        """Exact covariance matrix of the features, shape (models, n, n), float64.

        For sparse uniform features the variance is p/3 − p²/4. Members of a correlated set with
        correlation c have E[x_i x_j] = c·p/4 + (1 − c)·p²/4, so covariance c·p(1 − p)/4 (the
        paper's sets, c = 1: p/4 − p²/4); anticorrelated members are never active together, so
        theirs is −(p/2k)² for sets of k. Features of different sets are independent.
        Equivariant features have ``E[x_i x_j] = p/3 · K(j − i)`` with the bump's circular
        autocorrelation ``K(δ) = (1/n) ∫₀ⁿ g(d(0, θ)/w) g(d(δ, θ)/w) dθ`` (E[a²] = 1/3),
        integrated exactly (piecewise Simpson), minus the product of the means: a symmetric
        circulant matrix.

        Examples
        --------
        >>> cov = FeatureDistribution("equivariant", [[1.0] * 6], bump_width=1.0).covariance()[0]
        >>> bool(torch.allclose(cov, torch.roll(cov, (1, 1), (0, 1))))   # circulant
        True
        """
        p = self.probability.double()                                    # (models, n)
        n = self.n_features
        mean = self.mean()
        if self.kind == "equivariant":
            K = torch.as_tensor(np.stack([_bump_autocorrelation(n, w) for w in self._widths()]),
                                device=p.device)                          # (models, n)
            offset = (torch.arange(n, device=p.device).unsqueeze(0)
                      - torch.arange(n, device=p.device).unsqueeze(1)) % n   # (n, n): j − i
            second = p[:, :1, None] / 3 * K[:, offset]
            return second - mean.unsqueeze(-1) * mean.unsqueeze(-2)
        k = self.set_size or 1
        eye = torch.eye(n, dtype=p.dtype, device=p.device)
        # E[x_i x_j] for i ≠ j in one set: members of a correlated set are active together in
        # joint mode (E = p/4) and independently otherwise (E = p²/4); anticorrelated members
        # never are (E = 0).
        if self.kind == "correlated":
            c = torch.as_tensor(self.correlation, dtype=p.dtype, device=p.device).view(-1, 1, 1)
            pair = c * p.unsqueeze(-1) / 4 + (1 - c) * p.unsqueeze(-1) ** 2 / 4
        else:
            pair = torch.zeros_like(p)[..., None]
        second = pair * (1 - eye) + torch.diag_embed(self.target_second_moment())
        same_set = _same_set(n, k, p.device)  # features of different sets are independent
        return same_set * (second - mean.unsqueeze(-1) * mean.unsqueeze(-2))

    def target_second_moment(self) -> torch.Tensor:
        """Exact E[y_i²] of every feature's target y (x, or its absolute value for signed data),
        shape (models, n), float64: the loss of a model that outputs zero, per unit importance.

        Equal to E[x_i²], the diagonal of :meth:`covariance` plus the squared :meth:`mean`, but
        computed per feature in O(models · n) memory (the covariance takes n² numbers per model:
        80 GB at n = 100,000): ``p/3`` for sparse uniform, correlated and signed features (a
        present feature's E[x²] is 1/3), ``p/(3k)`` for anticorrelated sets of k, and
        ``p/3 · K(0)`` for equivariant ones (see :meth:`covariance`).

        Examples
        --------
        >>> FeatureDistribution("sparse_uniform", [[0.3, 1.0]]).target_second_moment()
        tensor([[0.1000, 0.3333]], dtype=torch.float64)
        >>> FeatureDistribution("anticorrelated", [[0.6] * 3], set_size=3).target_second_moment()
        tensor([[0.0667, 0.0667, 0.0667]], dtype=torch.float64)
        """
        p = self.probability.double()
        if self.kind == "equivariant":
            at_zero = [_bump_autocorrelation(self.n_features, w, deltas=[0])[0]
                       for w in self._widths()]
            return p / 3 * torch.as_tensor(at_zero, device=p.device).unsqueeze(-1)
        return p / 3 / (self.set_size if self.kind == "anticorrelated" else 1)

    def _widths(self) -> np.ndarray:
        return np.asarray(self.bump_width, dtype=float)


def _per_model(name: str, value, models: int, default) -> np.ndarray | None:
    """A scalar or per-model value as a float64 array of shape (models,)."""
    if value is None:
        return None if default is None else np.full(models, float(default))
    arr = np.asarray(value, dtype=float)
    if arr.ndim > 1 or (arr.ndim == 1 and len(arr) != models):
        raise ValueError(f"{name}: expected a scalar or one value per model ({models}); got "
                         f"shape {arr.shape}")
    return np.array(np.broadcast_to(arr, (models,)))


def _bump_mean(n: int, w: np.ndarray) -> torch.Tensor:
    """(1/n) ∫₀ⁿ max(0, 1 − d(0, θ)/w) dθ for every width, shape (models, 1), float64."""
    w = np.asarray(w, dtype=float)
    mu = np.where(w <= n / 2, w / n, 1 - n / (4 * np.maximum(w, 1e-300)))
    return torch.as_tensor(mu).unsqueeze(-1)


def _bump_autocorrelation(n: int, w: float, deltas=None) -> np.ndarray:
    """K(δ) = (1/n) ∫₀ⁿ g(d(0, θ)/w) g(d(δ, θ)/w) dθ for δ = 0 … n − 1 (or the given
    ``deltas``), float64, shape (n,) (or that of ``deltas``).

    ``g(d/w)`` is piecewise linear in θ with kinks at the feature (distance 0), opposite it
    (distance n/2) and where the bump reaches 0 (distance w). Between the kinks of both factors
    the integrand is a quadratic polynomial, which Simpson's rule integrates exactly.
    """
    delta = np.arange(n, dtype=float)[:, None] if deltas is None else np.asarray(
        deltas, dtype=float)[:, None]                                    # (shifts, 1)
    shifts = len(delta)
    kinks = np.array([0.0, n / 2, w, -w])
    points = np.concatenate([np.broadcast_to(kinks, (shifts, 4)), delta + kinks,
                             np.zeros((shifts, 1)), np.full((shifts, 1), float(n))], axis=1)
    points = np.sort(np.where((points >= 0) & (points <= n), points, np.mod(points, n)), axis=1)

    def f(theta):
        def g(centre):
            diff = np.mod(theta - centre, n)
            return np.maximum(0.0, 1 - np.minimum(diff, n - diff) / w)
        return g(0.0) * g(delta)

    a, b = points[:, :-1], points[:, 1:]
    simpson = (b - a) / 6 * (f(a) + 4 * f((a + b) / 2) + f(b))
    return simpson.sum(axis=1) / n


def _same_set(n: int, k: int, device) -> torch.Tensor:
    """(n, n) float64 indicator that features i and j belong to the same set of size k."""
    s = torch.arange(n, device=device) // k
    return (s.unsqueeze(0) == s.unsqueeze(1)).double()


class UniformStream:
    """Fast, reproducible float32 uniforms for the trainer.

    Draws successive blocks of the counter-based stream of :mod:`superposition_lib.core.kernels`
    (SplitMix64 over a counter, compiled C). Large draws are filled by two threads, each writing
    half of the rows; since every number is a function of its index alone, the output depends
    only on the key and on how many numbers were drawn before, never on threading. The state is
    a single counter, which makes checkpoints trivial.

    A block of models (for training a large spec in parts, see
    :func:`~superposition_lib.core.train.train_block`) reads only its rows of every draw of the
    whole spec: ``skip`` numbers into the draw, then the next draw ``step`` numbers later.

    Parameters
    ----------
    key : int
        Stream key in [0, 2**64), e.g. from ``numpy.random.SeedSequence.generate_state``.
    shape : tuple of int
        Shape of every draw, (models, batch, n).
    skip : int
        Numbers of every draw before this one's first (0: the draw starts it).
    step : int, optional
        Numbers from one draw to the next; default the size of a draw.

    Attributes
    ----------
    offset : int
        Position of the current draw of the whole spec (its first number is ``offset + skip``).

    Examples
    --------
    >>> stream = UniformStream(key=0, shape=(2, 3, 4))
    >>> u = stream.next()
    >>> u.shape, u.dtype, stream.state()
    (torch.Size([2, 3, 4]), torch.float32, 24)
    >>> second = UniformStream(key=0, shape=(1, 3, 4), skip=12, step=24)   # its second model
    >>> bool((second.next() == u[1:]).all()), second.state()
    (True, 24)
    """

    def __init__(self, key: int, shape: tuple[int, int, int], skip: int = 0,
                 step: int | None = None):
        self.key = int(key)
        self.offset = 0
        self.buffer = np.empty(shape, dtype=np.float32)
        self._rows = self.buffer.reshape(-1, shape[-1])
        self.skip = int(skip)
        self.step = self.buffer.size if step is None else int(step)
        if self.skip < 0 or self.skip + self.buffer.size > self.step:
            raise ValueError(f"skip, step: a draw of {self.buffer.size} numbers must fit in "
                             f"[skip, step); got skip={skip}, step={step}")

    def start(self) -> int:
        """Stream position of the next draw's first number."""
        return self.offset + self.skip

    def advance(self) -> None:
        """Move to the next draw (what :meth:`next` does after drawing)."""
        self.offset += self.step

    def next(self) -> torch.Tensor:
        """Uniforms on [0, 1), shape (models, batch, n); the buffer is reused by the next call."""
        n = self._rows.shape[1]
        in_halves(lambda a, b: fill_uniform(self._rows[a:b], self.key, self.start() + a * n),
                  len(self._rows), n)
        self.advance()
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
                                                   self.start(), rows=(a, b)),
                  len(self._rows), self._rows.shape[1])
        self.advance()
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
