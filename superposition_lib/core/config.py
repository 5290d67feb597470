"""Experiment specifications: everything that determines a training run.

An :class:`ExperimentSpec` is a frozen, validated description of a batch of toy models trained
together: the model kind, its sizes, the data distribution of every instance, the optimiser and
its schedule, the seed, restarts and what to record. Its :meth:`ExperimentSpec.key` is a content
hash of everything that affects the result (plus :data:`FORMAT_VERSION`), which the run store uses
as the cache key. What each field accepts, and the checks a spec makes when it is created, are in
:mod:`~superposition_lib.core.fields`.

Defaults follow the public notebook of Elhage et al. (2022), "Toy Models of Superposition"
(AdamW, lr 1e-3, batch 1024, 10,000 steps, weight decay 0.01), except the initialisation: the
notebook draws Xavier-normal weights over the whole (instances, n, m) tensor, so the initial scale
depends on how many instances share it. The default here, ``init="xavier"``, is Xavier-normal per
instance (std = sqrt(2 / (m + n))); ``init="notebook"`` keeps the notebook's behaviour.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from .fields import FIELD_CHECKS, warn_degenerate

#: Version of the on-disk result format, of the key format and of the training semantics. Bump it
#: whenever a change makes old cached runs invalid or renames them; it is part of every
#: :meth:`ExperimentSpec.key`. Version 2 rounds every float of the key to :data:`KEY_DIGITS`
#: significant digits (version 1 hashed full-precision floats); the arrays are unchanged, and
#: :meth:`~superposition_lib.core.store.RunStore.migrate` renames version-1 entries.
FORMAT_VERSION = 2

#: Version of the trained numbers: of the training and evaluation arithmetic (initialisation, random
#: streams, kernels, summation orders, the optimiser step, the final-loss estimate). Bump it with
#: any change that alters a single bit of a trained run on the CPU path that made it, and
#: regenerate the committed runs (``superposition verify --all`` finds the stale ones). Every
#: manifest records it; :class:`~superposition_lib.core.store.RunStore` loads an entry of another
#: numerics version only as stale (:class:`~superposition_lib.core.store.StaleRunError`), never as a
#: current result. It is not part of the key, so a stale entry keeps its name and is replaced
#: in place when it is retrained.
NUMERICS_VERSION = 1

#: Significant decimal digits kept of every float that enters :meth:`ExperimentSpec.key`.
#: A float64 carries about 16; numpy's SIMD code paths (AVX-512 or not, for example in
#: ``np.geomspace``) differ in the last one or two bits, a relative 1e-16 to 1e-15, which 12 digits
#: absorb with three digits to spare. Training reads these values in float32 (a relative 6e-8), so
#: any difference that can change a result, down to a relative 1e-11, still changes the key.
KEY_DIGITS = 12

# Fields that do not change what is computed; they are left out of the cache key.
_NOT_IN_KEY = ("name",)
# Fields added after runs were cached: left out of to_dict (so of the key and the manifest) while
# they hold these defaults, so that every earlier spec keeps its key and its stored manifest.
_OMITTED_AT_DEFAULT = {"correlation": 1.0, "bump_width": None, "eval_samples": None,
                       "snapshot_weights": True, "init_scale": 1.0, "attack": None,
                       "attack_norm": 0.0}


def canonical(value):
    """A JSON-ready copy of ``value`` with every float rounded to :data:`KEY_DIGITS` digits.

    Dictionaries, lists and tuples are copied recursively (tuples become lists); integers,
    strings, bools and None are kept.

    Parameters
    ----------
    value : object
        Plain values, as in :meth:`ExperimentSpec.to_dict`.

    Returns
    -------
    object
        The same structure, with floats canonicalised.

    Examples
    --------
    >>> canonical({"lr": 0.1 + 0.2, "betas": (0.9, 0.999), "steps": 10})
    {'lr': 0.3, 'betas': [0.9, 0.999], 'steps': 10}
    """
    if isinstance(value, float):
        return float(f"{value:.{KEY_DIGITS}g}")
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value


@dataclass(frozen=True)
class ExperimentSpec:
    """A batch of toy models trained together, fully specified.

    Parameters
    ----------
    model : str
        ``"linear"`` (x' = WᵀWx + b), ``"relu_output"`` (x' = ReLU(WᵀWx + b)), ``"relu_hidden"``
        (x' = ReLU(Wᵀ ReLU(Wx) + b)) or ``"absolute_value"`` (y' = ReLU(W₂ ReLU(W₁x) + b), untied).
    n_features : int
        Number of input features n.
    n_hidden : int
        Hidden dimension m.
    feature_probability : float or sequence
        Probability 1 − S that a feature is non-zero. One value per instance (a list whose length
        sets the number of instances), or a list of per-feature lists (instances × n_features) for
        non-uniform sparsity. A scalar means a single instance. Each value must lie in
        [2**-24, 1] (:data:`~superposition_lib.core.fields.MIN_FEATURE_PROBABILITY`); a
        probability under which a feature is expected in less than one of the
        ``steps × batch_size`` training samples warns
        (:class:`~superposition_lib.core.fields.DegenerateSpecWarning`).
    importance : float or sequence, default 1.0
        Weight I_i of feature i's squared error: a scalar, one value per feature, or a list of
        per-feature lists (one per instance). Each must be 0 or in
        :data:`~superposition_lib.core.fields.FLOAT32_RANGE`, and every instance needs one above
        0 (with all zero there is nothing to learn).
    data : str, optional
        ``"sparse_uniform"`` (the paper's default), ``"correlated"`` or ``"anticorrelated"`` (sets
        of ``set_size`` consecutive features), ``"signed_uniform"`` (values in [−1, 1], for the
        absolute-value task) or ``"equivariant"`` (a bump of width ``bump_width`` at a random
        orientation on a circle of n features). Defaults to ``"signed_uniform"`` for
        ``model="absolute_value"`` and ``"sparse_uniform"`` otherwise. See
        :mod:`superposition_lib.core.data` for the exact distributions.
    set_size : int, optional
        Size of each correlated or anticorrelated set; must divide ``n_features``. Sets need one
        feature probability for all their members.
    correlation : float or sequence, default 1.0
        Only for ``data="correlated"``: the correlation c in [0, 1] of the presence of two members
        of a set. Per sample and set, with probability c the set is in joint mode (all members
        present together with probability p, else all zero), otherwise members are present
        independently with probability p. c = 1 is the paper's correlated set, c = 0 independent
        features; the density of every feature is p for all c. A scalar, or one value per
        instance (a list, which sets the number of instances when ``feature_probability`` is a
        scalar). Left out of the cache key while it is 1.0.
    bump_width : float or sequence, optional
        Required for (and only used with) ``data="equivariant"``: the half-width w > 0 (in
        features) of the triangular bump ``max(0, 1 − d / w)`` every sample draws at a random
        orientation. A scalar or one value per instance, as for ``correlation``. The feature
        probability (the chance that a sample is non-zero) must be equal for every feature of an
        instance, and ``n_features`` must be at least 2.
    steps, batch_size : int
        Optimisation steps and samples per step (fresh data each step).
    lr : float
        Peak learning rate, in :data:`~superposition_lib.core.fields.FLOAT32_RANGE` (a smaller
        one is 0 or subnormal in float32, and no weight would change). One below
        :data:`~superposition_lib.core.fields.QUIET_LR` warns
        (:class:`~superposition_lib.core.fields.DegenerateSpecWarning`): Adam moves a weight by
        about lr per step, which rounds away for every weight larger than lr · 2**24.
    lr_schedule : str
        ``"constant"``, ``"linear"`` (decay to 0), ``"cosine"`` (to 0), or ``"warmup_cosine"``
        (linear warm-up over ``warmup_fraction`` of the steps, then cosine).
    warmup_fraction : float
        Fraction of steps used for warm-up by ``"warmup_cosine"``.
    optimizer : str
        ``"adamw"`` (decoupled weight decay, the notebook's choice) or ``"adam"``.
    weight_decay, betas, eps : float, (float, float), float
        Optimiser hyper-parameters (weight decay is ignored by ``"adam"``).
    init : str
        ``"xavier"``: Xavier-normal per instance, std = sqrt(2 / (m + n)); ``"notebook"``: the
        notebook's Xavier-normal over the 3-D tensor, std = sqrt(2 / (m (n + instances))).
    init_scale : float or sequence, default 1.0
        Factor on the standard deviation of ``init``: a number > 0, or one per instance (as
        for ``correlation``). Left out of the cache key while it is 1.0.
    attack : str, optional
        Adversarial training: every training input is replaced by its optimal L2 attack
        x + ε (WᵀW)_i / ‖(WᵀW)_i‖ (the target stays x), for a feature i drawn uniformly per
        sample (``"random"``) or the feature whose attack raises the sample's loss most among
        :data:`~superposition_lib.core.attacks.CANDIDATES` likely ones (``"strongest"``). Only
        for tied models (``"linear"``, ``"relu_output"``). None (the default) trains on clean
        inputs and is left out of the cache key.
    attack_norm : float or sequence, default 0.0
        The attack's norm ε as a fraction of the mean input norm of the training batch: a
        number >= 0, or one per instance (as for ``correlation``). Must be 0 without
        ``attack``; left out of the cache key while it is 0.
    seed : int
        Seed for initialisation, training data and evaluation data.
    restarts : int
        Independent seeds of every instance trained in the same batched call (best-of-N).
    snapshot_every : int, optional
        Record W, b and loss every this many steps (and at step 0 and the last step).
    snapshot_log : int, optional
        Record about this many log-spaced snapshots (step 0, then log-spaced up to ``steps``).
        At most one of ``snapshot_every`` and ``snapshot_log`` may be given.
    snapshot_weights : bool, default True
        Snapshots hold the weights (W, b, and W_out for untied models). False keeps, per
        snapshot, only every feature's dimensionality D_i and norm ‖W_i‖ (with the loss): for
        long runs of large models whose weight snapshots would not fit the run store (200
        snapshots of 15 models with n = 400, m = 30 are 144 MB of weights, 10 MB of D and
        norms). Left out of the cache key while True.
    history_every : int, optional
        Record the training-batch loss of every model every this many steps; defaults to
        ``max(1, steps // 500)``.
    eval_samples : int, optional
        Most samples per model for the final loss estimate, which stops earlier once every
        model's standard error is below 1% of its loss; defaults to 2^20. Grids of many small
        models lower it to keep the estimate's cost near the training's. Left out of the cache
        key while it is None.
    name : str
        Free-form label; not part of the cache key.

    Raises
    ------
    ValueError
        If a field is invalid: a number out of range, not finite, a bool or a string; a float
        that training reads in float32 outside
        :data:`~superposition_lib.core.fields.FLOAT32_RANGE` (other than an allowed 0);
        a spec that can never train (an instance whose importances are all 0); a list that is
        empty, ragged or nested too deeply; an unknown name. The message starts with the field
        name and a colon, and says what was given and the allowed values. Numpy scalars and
        arrays are accepted wherever Python numbers and lists are, and stored as Python ints and
        floats.

    Warns
    -----
    DegenerateSpecWarning
        For a valid spec that will probably learn little: ``lr`` below 2**-24, or a
        ``feature_probability`` under which a feature is expected in less than one training
        sample. The message starts with the field name and a colon.

    Examples
    --------
    >>> spec = ExperimentSpec(n_features=5, n_hidden=2, feature_probability=[1.0, 0.1],
    ...                       importance=[0.9 ** i for i in range(5)], steps=100)
    >>> spec.n_instances, spec.n_models
    (2, 2)
    >>> len(spec.key())
    16
    """

    model: str = "relu_output"
    n_features: int = 5
    n_hidden: int = 2
    feature_probability: float | tuple = 1.0
    importance: float | tuple = 1.0
    data: str | None = None
    set_size: int | None = None
    correlation: float | tuple = 1.0
    bump_width: float | tuple | None = None
    steps: int = 10_000
    batch_size: int = 1024
    lr: float = 1e-3
    lr_schedule: str = "constant"
    warmup_fraction: float = 0.05
    optimizer: str = "adamw"
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    init: str = "xavier"
    init_scale: float | tuple = 1.0
    attack: str | None = None
    attack_norm: float | tuple = 0.0
    seed: int = 0
    restarts: int = 1
    snapshot_every: int | None = None
    snapshot_log: int | None = None
    snapshot_weights: bool = True
    history_every: int | None = None
    eval_samples: int | None = None
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for name, check in FIELD_CHECKS:  # validate and normalise, field by field
            object.__setattr__(self, name, check(self, name, getattr(self, name)))  # (frozen)
        warn_degenerate(self)

    # ----------------------------------------------------------------------------------------
    @property
    def n_instances(self) -> int:
        """Number of instances (distinct data distributions / importances)."""
        p = np.asarray(self.feature_probability)
        if p.ndim > 0:
            return len(p)
        i = np.asarray(self.importance)
        if i.ndim == 2:
            return len(i)
        for value in (self.correlation, self.bump_width, self.init_scale, self.attack_norm):
            if isinstance(value, (tuple, list, np.ndarray)):
                return len(value)
        return 1

    @property
    def n_models(self) -> int:
        """Number of models trained: ``n_instances * restarts``."""
        return self.n_instances * self.restarts

    @property
    def tied(self) -> bool:
        """Whether the output weights are Wᵀ (all models but ``absolute_value``)."""
        return self.model != "absolute_value"

    def feature_probability_array(self) -> np.ndarray:
        """Per-instance, per-feature probabilities, shape (instances, n_features)."""
        p = np.asarray(self.feature_probability, dtype=float)
        if p.ndim < 2:
            p = np.broadcast_to(p.reshape(-1, 1), (self.n_instances, self.n_features))
        return np.array(p)

    def correlation_array(self) -> np.ndarray:
        """Per-instance set correlation c, shape (instances,) (1.0 unless data is correlated).

        Examples
        --------
        >>> ExperimentSpec(n_features=4, data="correlated", set_size=2,
        ...                correlation=[0.0, 0.5, 1.0]).correlation_array()
        array([0. , 0.5, 1. ])
        """
        return np.array(np.broadcast_to(np.asarray(self.correlation, dtype=float),
                                        (self.n_instances,)))

    def init_scale_array(self) -> np.ndarray:
        """Per-instance factor on the initial weights' standard deviation, shape (instances,).

        Examples
        --------
        >>> ExperimentSpec(feature_probability=[0.1, 0.1], init_scale=[1.0, 0.1]).init_scale_array()
        array([1. , 0.1])
        """
        return np.array(np.broadcast_to(np.asarray(self.init_scale, dtype=float),
                                        (self.n_instances,)))

    def attack_norm_array(self) -> np.ndarray:
        """Per-instance attack norm (a fraction of the mean input norm), shape (instances,).

        Examples
        --------
        >>> ExperimentSpec(feature_probability=[0.1, 0.1], attack="random",
        ...                attack_norm=[0.0, 0.5]).attack_norm_array()
        array([0. , 0.5])
        """
        return np.array(np.broadcast_to(np.asarray(self.attack_norm, dtype=float),
                                        (self.n_instances,)))

    def bump_width_array(self) -> np.ndarray | None:
        """Per-instance bump half-width w, shape (instances,); None unless data is equivariant.

        Examples
        --------
        >>> ExperimentSpec(n_features=8, data="equivariant", bump_width=1.5,
        ...                feature_probability=[0.1, 0.2]).bump_width_array()
        array([1.5, 1.5])
        """
        if self.bump_width is None:
            return None
        return np.array(np.broadcast_to(np.asarray(self.bump_width, dtype=float),
                                        (self.n_instances,)))

    def importance_array(self) -> np.ndarray:
        """Per-instance, per-feature importances, shape (instances, n_features)."""
        i = np.asarray(self.importance, dtype=float)
        return np.array(np.broadcast_to(i, (self.n_instances, self.n_features)))

    def snapshot_steps(self) -> np.ndarray:
        """Steps after which a snapshot is recorded (0 is the initialisation), shape (k,).

        Examples
        --------
        >>> ExperimentSpec(steps=1000, snapshot_every=250).snapshot_steps()
        array([   0,  250,  500,  750, 1000])
        >>> ExperimentSpec(steps=1000, snapshot_log=4).snapshot_steps()
        array([   0,    1,   10,  100, 1000])
        """
        if self.snapshot_every is not None:
            steps = np.arange(0, self.steps + 1, self.snapshot_every)
            return np.union1d(steps, [self.steps])
        if self.snapshot_log is not None:
            log = np.geomspace(1, self.steps, self.snapshot_log)
            return np.union1d([0], np.unique(np.round(log).astype(int)))
        return np.zeros(0, dtype=int)

    def history_steps(self) -> np.ndarray:
        """Steps at which the training loss is recorded, shape (h,).

        Examples
        --------
        >>> ExperimentSpec(steps=1000, history_every=300).history_steps()
        array([ 300,  600,  900, 1000])
        >>> len(ExperimentSpec(steps=10_000).history_steps())  # default: every steps // 500
        500
        """
        every = self.history_every or max(1, self.steps // 500)
        return np.union1d(np.arange(every, self.steps + 1, every), [self.steps])

    # ----------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """All fields as plain JSON-serialisable values (tuples become lists).

        ``correlation`` and ``bump_width`` are left out while they hold their defaults (1.0 and
        None): specs written before these fields existed keep their dictionaries and cache keys.

        Examples
        --------
        >>> "correlation" in ExperimentSpec().to_dict()
        False
        >>> ExperimentSpec(data="correlated", set_size=5, correlation=0.5).to_dict()["correlation"]
        0.5
        """
        d = json.loads(json.dumps(dataclasses.asdict(self)))
        for name, default in _OMITTED_AT_DEFAULT.items():
            if d[name] == default:
                del d[name]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ExperimentSpec:
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        d : dict
            Field names to values, as written by :meth:`to_dict`.

        Returns
        -------
        ExperimentSpec

        Raises
        ------
        ValueError
            For unknown fields or invalid values.

        Examples
        --------
        >>> spec = ExperimentSpec(n_features=3, n_hidden=1, feature_probability=[0.5, 0.1])
        >>> ExperimentSpec.from_dict(spec.to_dict()) == spec
        True
        """
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown ExperimentSpec fields: {sorted(unknown)}; allowed fields "
                             f"are {sorted(known)}")
        return cls(**d)

    def replace(self, **changes) -> ExperimentSpec:
        """A copy with some fields changed (validated again).

        Parameters
        ----------
        **changes
            Field names and their new values.

        Returns
        -------
        ExperimentSpec

        Examples
        --------
        >>> ExperimentSpec(steps=100).replace(seed=3).seed
        3
        """
        return dataclasses.replace(self, **changes)

    def canonical_dict(self) -> dict:
        """What the key hashes: :meth:`to_dict` without ``name``, floats rounded by
        :func:`canonical`.

        Two specs with equal canonical dictionaries describe the same training, whatever the
        last bits of their floats; the run store compares these when it loads an entry.

        Examples
        --------
        >>> a = ExperimentSpec(feature_probability=[0.3])
        >>> b = ExperimentSpec(feature_probability=[0.1 + 0.2], name="b")  # 0.30000000000000004
        >>> a == b, a.canonical_dict() == b.canonical_dict(), a.key() == b.key()
        (False, True, True)
        """
        return canonical({k: v for k, v in self.to_dict().items() if k not in _NOT_IN_KEY})

    def key(self) -> str:
        """Content hash (16 hex digits) of every result-affecting field and the format version.

        Floats enter rounded to :data:`KEY_DIGITS` significant digits (:meth:`canonical_dict`),
        so the key is the same on every CPU and numpy SIMD path, and a float given as an int or
        a numpy scalar hashes like the Python float of the same value.

        Examples
        --------
        >>> ExperimentSpec(lr=1).key() == ExperimentSpec(lr=np.float64(1.0)).key()
        True
        >>> ExperimentSpec(lr=1e-3).key() == ExperimentSpec(lr=1e-3 * (1 + 1e-9)).key()
        False
        """
        payload = self.canonical_dict()
        payload["format_version"] = FORMAT_VERSION
        blob = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
