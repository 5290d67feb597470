"""Experiment specifications: everything that determines a training run.

An :class:`ExperimentSpec` is a frozen, validated description of a batch of toy models trained
together: the model kind, its sizes, the data distribution of every instance, the optimiser and
its schedule, the seed, restarts and what to record. Its :meth:`ExperimentSpec.key` is a content
hash of everything that affects the result (plus :data:`FORMAT_VERSION`), which the run store uses
as the cache key.

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
import math
import reprlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

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

#: Allowed values of ``ExperimentSpec.model``.
MODELS = ("linear", "relu_output", "relu_hidden", "absolute_value")
#: Allowed values of ``ExperimentSpec.data``.
DATA = ("sparse_uniform", "correlated", "anticorrelated", "signed_uniform", "equivariant")
#: Allowed values of ``ExperimentSpec.optimizer``.
OPTIMIZERS = ("adamw", "adam")
#: Allowed values of ``ExperimentSpec.lr_schedule``.
LR_SCHEDULES = ("constant", "linear", "cosine", "warmup_cosine")
#: Allowed values of ``ExperimentSpec.init``.
INITS = ("xavier", "notebook")
#: Allowed values of ``ExperimentSpec.attack`` (besides None, no attack).
ATTACKS = ("random", "strongest")
#: Models that ``ExperimentSpec.attack`` can train: tied ones, whose optimal attack on feature i
#: is along (WᵀW)_i (see :mod:`~superposition_lib.analysis.adversarial`).
ATTACKED_MODELS = ("linear", "relu_output")

#: float32's smallest normal and largest finite numbers. Training reads every float field but
#: ``betas`` and ``warmup_fraction`` in float32, where a smaller non-zero value is 0 or loses
#: precision and a larger one is inf, so these fields must be 0 (where allowed) or in this range.
FLOAT32_RANGE = (float(np.finfo(np.float32).tiny), float(np.finfo(np.float32).max))
#: Smallest ``feature_probability``, 2**-24: whether a feature is present is decided by a float32
#: uniform of 24-bit resolution (:mod:`~superposition_lib.core.kernels`), so any smaller probability
#: would be drawn as 2**-24 (and one that is 0 in float32 as garbage).
MIN_FEATURE_PROBABILITY = 2.0 ** -24
#: Smallest ``lr`` that does not warn (:class:`DegenerateSpecWarning`): 2**-24, float32's
#: resolution at 1. Adam moves a weight by about lr per step, which rounds away for every weight
#: larger than lr · 2**24 (above 1 at this lr).
QUIET_LR = 2.0 ** -24
_IN_FLOAT32 = f"float32's range [{FLOAT32_RANGE[0]:.2g}, {FLOAT32_RANGE[1]:.2g}]"


def _float32(value: float) -> bool:
    """Whether a positive ``value`` lies in :data:`FLOAT32_RANGE`."""
    return FLOAT32_RANGE[0] <= value <= FLOAT32_RANGE[1]


class DegenerateSpecWarning(UserWarning):
    """A valid :class:`ExperimentSpec` that will probably learn little or nothing: a learning
    rate below float32's resolution, or a feature probability under which a feature is
    expected to be non-zero in less than one sample of the whole training. The message names
    the field, its value and the values expected. Specs that can never train (all importances
    zero, probabilities or a learning rate that are 0 in float32) are refused with a
    ValueError instead."""


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


def _shown(value) -> str:
    """A short repr of ``value`` for error messages (numpy already shortens long arrays)."""
    return repr(value) if isinstance(value, np.ndarray) else reprlib.repr(value)


def _allowed(field_name: str, value, allowed: Sequence[str]) -> str:
    """``value`` as a str if it is one of the strings ``allowed``, else a ValueError naming the
    field."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{field_name}: got {_shown(value)}; allowed values are "
                         f"{', '.join(allowed)}")
    return str(value)


def _positive_int(field_name: str, value, minimum: int = 1, optional: bool = False) -> int | None:
    """``value`` as a Python int (numpy integers included; not a bool, a float or a string), or
    None if ``optional`` and ``value`` is None; else a ValueError naming the field."""
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{field_name}: got {_shown(value)}; must be an integer >= {minimum}"
                         + (" or None" if optional else ""))
    return int(value)


def _real(field_name: str, value, ok, allowed: str, within=None) -> float:
    """``value`` as a Python float if it is a finite real number (Python or numpy; not a bool or
    a string) with ``ok(value)``, else a ValueError naming the field, ``allowed`` and ``value``
    (as an entry of ``within`` when given)."""
    number = math.nan
    if (not isinstance(value, (bool, np.bool_))
            and isinstance(value, (int, float, np.integer, np.floating))):
        try:
            number = float(value)
        except OverflowError:  # an int beyond the float range
            pass
    if not (math.isfinite(number) and ok(number)):
        where = "" if within is None else f" in {_shown(within)}"
        raise ValueError(f"{field_name}: must be {allowed}; got {_shown(value)}{where}")
    return number


def _numbers(field_name: str, value, depth: int, ok, allowed: str) -> float | tuple:
    """``value``, a number or non-empty lists of numbers nested at most ``depth`` deep with rows
    of equal length, as a float or nested tuples of floats (each checked by :func:`_real`)."""
    def fail(reason):
        raise ValueError(f"{field_name}: must be {allowed}; got {_shown(value)} ({reason})")

    def walk(item, level):  # the normalised item and its shape
        if isinstance(item, np.ndarray):
            item = item.tolist()
        if not isinstance(item, (list, tuple)):
            return _real(field_name, item, ok, allowed, within=None if level == 0 else value), ()
        if level == depth:
            fail(f"lists nested more than {depth} deep")
        if not item:
            fail("an empty list")
        entries = [walk(entry, level + 1) for entry in item]
        shapes = {shape for _, shape in entries}
        if len(shapes) > 1:
            fail("a ragged list: rows of different lengths or depths")
        return tuple(entry for entry, _ in entries), (len(entries), *shapes.pop())

    return walk(value, 0)[0]


def _as_table(field_name: str, value, n_features: int, ok, allowed: str) -> float | tuple:
    """Normalise a scalar, per-instance, per-feature or (instances x features) value.

    Returns a float, a tuple of floats (per instance or per feature) or a tuple of tuples, with
    the same nesting as the input, so that specs stay readable and JSON-serialisable. Every value
    must pass ``ok``; ``allowed`` describes the allowed values in error messages.
    """
    table = _numbers(field_name, value, 2, ok, allowed)
    shape = np.shape(table)
    if len(shape) == 2 and shape[1] != n_features:
        raise ValueError(f"{field_name}: rows must have one entry per feature (n_features="
                         f"{n_features}); got shape {shape}")
    return table


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
        [2**-24, 1] (:data:`MIN_FEATURE_PROBABILITY`); a probability under which a feature is
        expected in less than one of the ``steps × batch_size`` training samples warns
        (:class:`DegenerateSpecWarning`).
    importance : float or sequence, default 1.0
        Weight I_i of feature i's squared error: a scalar, one value per feature, or a list of
        per-feature lists (one per instance). Each must be 0 or in :data:`FLOAT32_RANGE`, and
        every instance needs one above 0 (with all zero there is nothing to learn).
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
        Peak learning rate, in :data:`FLOAT32_RANGE` (a smaller one is 0 or subnormal in float32,
        and no weight would change). One below :data:`QUIET_LR` warns
        (:class:`DegenerateSpecWarning`): Adam moves a weight by about lr per step, which rounds
        away for every weight larger than lr · 2**24.
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
        that training reads in float32 outside :data:`FLOAT32_RANGE` (other than an allowed 0);
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
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)
        set_("model", _allowed("model", self.model, MODELS))
        set_("n_features", _positive_int("n_features", self.n_features))
        set_("n_hidden", _positive_int("n_hidden", self.n_hidden))
        if self.data is None:
            set_("data", "signed_uniform" if self.model == "absolute_value" else "sparse_uniform")
        set_("data", _allowed("data", self.data, DATA))
        if (self.model == "absolute_value") != (self.data == "signed_uniform"):
            raise ValueError("data: the absolute_value model needs data='signed_uniform', and "
                             f"signed_uniform data needs model='absolute_value'; got "
                             f"model={self.model!r}, data={self.data!r}")
        if self.data in ("correlated", "anticorrelated"):
            if self.set_size is None:
                raise ValueError(f"set_size: required for data={self.data!r}; an integer >= 2 "
                                 f"that divides n_features={self.n_features}")
            set_("set_size", _positive_int("set_size", self.set_size, minimum=2))
            if self.n_features % self.set_size:
                raise ValueError(f"set_size: {self.set_size} does not divide n_features="
                                 f"{self.n_features}")
        elif self.set_size is not None:
            raise ValueError(f"set_size: only used with data='correlated' or 'anticorrelated', "
                             f"got set_size={self.set_size} with data={self.data!r}")
        set_("correlation", _numbers("correlation", self.correlation, 1,
                                     lambda v: v == 0 or (_float32(v) and v <= 1),
                                     "a number in [0, 1] (0 or at least float32's smallest "
                                     f"normal {FLOAT32_RANGE[0]:.2g}) or a list with one per "
                                     "instance"))
        set_("init_scale", _numbers("init_scale", self.init_scale, 1, _float32,
                                    f"a number > 0 (in {_IN_FLOAT32}) or a list with one per "
                                    "instance"))
        if self.data != "correlated" and self.correlation != 1.0:
            raise ValueError(f"correlation: only used with data='correlated' (leave it at 1.0 "
                             f"otherwise); got correlation={self.correlation!r} with "
                             f"data={self.data!r}")
        if self.data == "equivariant":
            if self.bump_width is None:
                raise ValueError("bump_width: required for data='equivariant'; a number > 0 "
                                 "(in features), or one per instance")
            set_("bump_width", _numbers("bump_width", self.bump_width, 1, _float32,
                                        f"a finite number > 0 (in {_IN_FLOAT32}) or a list with "
                                        "one per instance"))
            if self.n_features < 2:
                raise ValueError(f"n_features: data='equivariant' needs n_features >= 2; got "
                                 f"{self.n_features}")
        elif self.bump_width is not None:
            raise ValueError(f"bump_width: only used with data='equivariant'; got "
                             f"bump_width={self.bump_width!r} with data={self.data!r}")

        prob = _as_table("feature_probability", self.feature_probability, self.n_features,
                         lambda v: MIN_FEATURE_PROBABILITY <= v <= 1,
                         f"a number in [2**-24 ≈ {MIN_FEATURE_PROBABILITY:.2g}, 1] (presence is "
                         "drawn from float32 uniforms of 24-bit resolution), a list of them (one "
                         "per instance) or a list of per-feature lists")
        p = np.asarray(prob, dtype=float)
        set_("feature_probability", prob)
        if p.ndim == 2 and self.data in ("correlated", "anticorrelated", "equivariant"):
            k = self.n_features if self.data == "equivariant" else self.set_size
            groups = p.reshape(len(p), -1, k)
            if np.any(groups != groups[..., :1]):
                where = ("for every feature of an instance" if self.data == "equivariant"
                         else f"within each set of {k} features")
                raise ValueError(f"feature_probability: must be equal {where} with "
                                 f"data={self.data!r}")
        imp = _as_table("importance", self.importance, self.n_features,
                        lambda v: v == 0 or _float32(v),
                        f"a number >= 0 (0 or in {_IN_FLOAT32}), a list of them (one per "
                        "feature) or a list of per-feature lists (one per instance)")
        i = np.asarray(imp, dtype=float)
        if i.ndim == 1 and len(i) != self.n_features:
            raise ValueError(f"importance: a list must have one value per feature (n_features="
                             f"{self.n_features}); got {len(i)}. Use a list of lists for "
                             f"per-instance importances")
        if i.ndim == 2 and len(i) != self.n_instances:
            raise ValueError(f"importance: a list of lists needs one row per instance "
                             f"({self.n_instances}); got {len(i)}")
        set_("importance", imp)
        idle = np.flatnonzero(~self.importance_array().any(axis=1))
        if idle.size:
            raise ValueError(f"importance: all 0 for instance {idle[0]} (of {self.n_instances}): "
                             f"its loss is 0 whatever the model, so there is nothing to learn; "
                             f"give every instance at least one importance > 0")
        self._check_attack()
        for name in ("correlation", "bump_width", "init_scale", "attack_norm"):
            value = getattr(self, name)
            if isinstance(value, tuple) and len(value) != self.n_instances:
                raise ValueError(f"{name}: a list needs one value per instance "
                                 f"({self.n_instances}); got {len(value)}")

        for name in ("steps", "batch_size", "restarts"):
            set_(name, _positive_int(name, getattr(self, name)))
        set_("seed", _positive_int("seed", self.seed, minimum=0))
        set_("lr", _real("lr", self.lr, _float32, f"a positive finite number in {_IN_FLOAT32} "
                         "(training's precision: a smaller lr is 0 or subnormal there, and no "
                         "weight would change)"))
        set_("eps", _real("eps", self.eps, _float32, f"a positive finite number in "
                          f"{_IN_FLOAT32} (Adam divides by it in float32)"))
        set_("weight_decay", _real("weight_decay", self.weight_decay,
                                   lambda v: v == 0 or _float32(v),
                                   f"a finite number >= 0 (0 or in {_IN_FLOAT32})"))
        betas = _numbers("betas", self.betas, 1, lambda v: 0 <= v < 1, "two numbers in [0, 1)")
        if not isinstance(betas, tuple) or len(betas) != 2:
            raise ValueError(f"betas: must be two numbers in [0, 1); got {_shown(self.betas)}")
        set_("betas", betas)
        set_("warmup_fraction", _real("warmup_fraction", self.warmup_fraction,
                                      lambda v: 0 <= v < 1, "a number in [0, 1)"))
        set_("lr_schedule", _allowed("lr_schedule", self.lr_schedule, LR_SCHEDULES))
        set_("optimizer", _allowed("optimizer", self.optimizer, OPTIMIZERS))
        set_("init", _allowed("init", self.init, INITS))
        for name in ("snapshot_every", "snapshot_log", "history_every", "eval_samples"):
            set_(name, _positive_int(name, getattr(self, name), optional=True))
        if not isinstance(self.snapshot_weights, (bool, np.bool_)):
            raise ValueError(f"snapshot_weights: must be True or False; got "
                             f"{_shown(self.snapshot_weights)}")
        set_("snapshot_weights", bool(self.snapshot_weights))
        if self.snapshot_every is not None and self.snapshot_log is not None:
            raise ValueError("snapshot_every, snapshot_log: give at most one of them; got "
                             f"{self.snapshot_every!r} and {self.snapshot_log!r}")
        if not isinstance(self.name, str):
            raise ValueError(f"name: must be a string; got {_shown(self.name)}")
        self._warn_degenerate()

    def _warn_degenerate(self) -> None:
        """Warn (:class:`DegenerateSpecWarning`, naming the field) about a valid spec that will
        probably learn little or nothing."""
        def warn(message):  # at the line that called ExperimentSpec(...)
            warnings.warn(message, DegenerateSpecWarning, stacklevel=5)

        if self.lr < QUIET_LR:
            warn(f"lr: {self.lr:g} is below 2**-24 ≈ {QUIET_LR:.2g}, float32's resolution at 1: "
                 f"Adam moves a weight by about lr per step, which rounds away for every weight "
                 f"larger than lr · 2**24 = {self.lr / QUIET_LR:.2g}, so the model barely "
                 f"learns; use lr >= {QUIET_LR:.2g} (typically 1e-4 to 1e-1)")
        samples = self.steps * self.batch_size
        least = float(self.feature_probability_array().min())
        if least * samples < 1:
            warn(f"feature_probability: {least:g} makes a feature non-zero in about "
                 f"{least * samples:.2g} of the {samples:,} samples of the whole training "
                 f"(steps × batch_size), so it is probably never seen; use "
                 f"feature_probability >= 1 / (steps × batch_size) = {1 / samples:.2g}, or "
                 f"train longer")

    def _check_attack(self) -> None:
        """Validate ``attack`` and ``attack_norm`` (a ValueError naming the field)."""
        object.__setattr__(self, "attack_norm", _numbers(
            "attack_norm", self.attack_norm, 1, lambda v: v == 0 or _float32(v),
            f"a number >= 0 (0 or in {_IN_FLOAT32}) or a list with one per instance"))
        if self.attack is None:
            if self.attack_norm != 0.0:
                raise ValueError(f"attack_norm: only used with an attack (attack is None); got "
                                 f"attack_norm={self.attack_norm!r}. Set attack to one of "
                                 f"{', '.join(ATTACKS)}")
            return
        object.__setattr__(self, "attack", _allowed("attack", self.attack, ATTACKS))
        if self.model not in ATTACKED_MODELS:
            raise ValueError(f"attack: only for the tied models {', '.join(ATTACKED_MODELS)}; "
                             f"got model={self.model!r}")

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
