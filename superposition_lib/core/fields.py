"""What each field of an :class:`~superposition_lib.core.config.ExperimentSpec` accepts.

The allowed names (:data:`MODELS`, :data:`DATA`, :data:`OPTIMIZERS` ...), the ranges that
training's float32 arithmetic imposes (:data:`FLOAT32_RANGE`, :data:`MIN_FEATURE_PROBABILITY`),
and :data:`FIELD_CHECKS`, the table of checks that a spec walks when it is made: every row names
a field and a check that returns the field's normalised value (numpy scalars and arrays become
Python numbers and tuples) or raises a ``ValueError`` whose message starts with the field's name
and a colon and says what was given and which values are allowed. Rows run in order, so a check
may read the fields that earlier rows normalised (``set_size`` reads ``data``; ``importance``
reads the number of instances that ``feature_probability`` sets), and a field whose check needs
later fields has a second row after them. A valid spec that will probably learn little warns
instead (:func:`warn_degenerate`).

Examples
--------
>>> dict(FIELD_CHECKS)["steps"](None, "steps", 0)
Traceback (most recent call last):
...
ValueError: steps: got 0; must be an integer >= 1
"""

from __future__ import annotations

import math
import reprlib
import warnings
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["MODELS", "DATA", "OPTIMIZERS", "LR_SCHEDULES", "INITS", "ATTACKS", "ATTACKED_MODELS",
           "FLOAT32_RANGE", "MIN_FEATURE_PROBABILITY", "QUIET_LR", "DegenerateSpecWarning",
           "FIELD_CHECKS", "warn_degenerate"]

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

#: A check of :data:`FIELD_CHECKS`: ``check(spec, field, value)``, the field's normalised value.
_Check = Callable[[object, str, object], object]


class DegenerateSpecWarning(UserWarning):
    """A valid :class:`~superposition_lib.core.config.ExperimentSpec` that will probably learn
    little or nothing: a learning rate below float32's resolution, or a feature probability
    under which a feature is expected to be non-zero in less than one sample of the whole
    training. The message names the field, its value and the values expected. Specs that can
    never train (all importances zero, probabilities or a learning rate that are 0 in float32)
    are refused with a ValueError instead."""


# -- Values of one field ---------------------------------------------------------------------------
def _float32(value: float) -> bool:
    """Whether a positive ``value`` lies in :data:`FLOAT32_RANGE`."""
    return FLOAT32_RANGE[0] <= value <= FLOAT32_RANGE[1]


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


# -- Checks of the table: the field's own value ----------------------------------------------------
def _choice(allowed: Sequence[str]) -> _Check:
    """One of the strings ``allowed``."""
    return lambda spec, name, value: _allowed(name, value, allowed)


def _integer(minimum: int = 1, optional: bool = False) -> _Check:
    """An integer >= ``minimum`` (or None if ``optional``)."""
    return lambda spec, name, value: _positive_int(name, value, minimum, optional)


def _number(ok: Callable[[float], bool], allowed: str) -> _Check:
    """A finite number with ``ok(value)``; ``allowed`` says which in messages."""
    return lambda spec, name, value: _real(name, value, ok, allowed)


def _per_instance(ok: Callable[[float], bool], allowed: str) -> _Check:
    """A number or a list with one per instance, each with ``ok(value)``."""
    return lambda spec, name, value: _numbers(name, value, 1, ok, allowed)


def _betas(spec, name: str, value) -> tuple:
    betas = _numbers(name, value, 1, lambda v: 0 <= v < 1, "two numbers in [0, 1)")
    if not isinstance(betas, tuple) or len(betas) != 2:
        raise ValueError(f"betas: must be two numbers in [0, 1); got {_shown(value)}")
    return betas


def _boolean(spec, name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: must be True or False; got {_shown(value)}")
    return bool(value)


def _string(spec, name: str, value) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name}: must be a string; got {_shown(value)}")
    return value


# -- Checks of the table: a field with the others --------------------------------------------------
def _data(spec, name: str, value) -> str:
    """The data kind (by default the one the model needs), which only the absolute-value model
    pairs with signed uniform data."""
    if value is None:
        value = "signed_uniform" if spec.model == "absolute_value" else "sparse_uniform"
    value = _allowed(name, value, DATA)
    if (spec.model == "absolute_value") != (value == "signed_uniform"):
        raise ValueError("data: the absolute_value model needs data='signed_uniform', and "
                         f"signed_uniform data needs model='absolute_value'; got "
                         f"model={spec.model!r}, data={value!r}")
    return value


def _set_size(spec, name: str, value) -> int | None:
    """Required for (correlated and anticorrelated) sets, dividing the features; else None."""
    if spec.data not in ("correlated", "anticorrelated"):
        if value is not None:
            raise ValueError(f"set_size: only used with data='correlated' or 'anticorrelated', "
                             f"got set_size={value} with data={spec.data!r}")
        return None
    if value is None:
        raise ValueError(f"set_size: required for data={spec.data!r}; an integer >= 2 "
                         f"that divides n_features={spec.n_features}")
    value = _positive_int(name, value, minimum=2)
    if spec.n_features % value:
        raise ValueError(f"set_size: {value} does not divide n_features={spec.n_features}")
    return value


def _correlated_only(spec, name: str, value):
    """A correlation other than 1 only for correlated data."""
    if spec.data != "correlated" and value != 1.0:
        raise ValueError(f"correlation: only used with data='correlated' (leave it at 1.0 "
                         f"otherwise); got correlation={value!r} with data={spec.data!r}")
    return value


def _bump_width(spec, name: str, value):
    """Required for (and only for) equivariant data: a width > 0, or one per instance."""
    if spec.data != "equivariant":
        if value is not None:
            raise ValueError(f"bump_width: only used with data='equivariant'; got "
                             f"bump_width={value!r} with data={spec.data!r}")
        return None
    if value is None:
        raise ValueError("bump_width: required for data='equivariant'; a number > 0 "
                         "(in features), or one per instance")
    return _numbers(name, value, 1, _float32, f"a finite number > 0 (in {_IN_FLOAT32}) or a list "
                    "with one per instance")


def _circle(spec, name: str, value) -> int:
    """At least two features on the circle of equivariant data."""
    if spec.data == "equivariant" and value < 2:
        raise ValueError(f"n_features: data='equivariant' needs n_features >= 2; got {value}")
    return value


def _feature_probability(spec, name: str, value):
    """Probabilities in [2**-24, 1], equal where the data kind draws features together."""
    prob = _as_table(name, value, spec.n_features,
                     lambda v: MIN_FEATURE_PROBABILITY <= v <= 1,
                     f"a number in [2**-24 ≈ {MIN_FEATURE_PROBABILITY:.2g}, 1] (presence is "
                     "drawn from float32 uniforms of 24-bit resolution), a list of them (one "
                     "per instance) or a list of per-feature lists")
    p = np.asarray(prob, dtype=float)
    if p.ndim == 2 and spec.data in ("correlated", "anticorrelated", "equivariant"):
        k = spec.n_features if spec.data == "equivariant" else spec.set_size
        groups = p.reshape(len(p), -1, k)
        if np.any(groups != groups[..., :1]):
            where = ("for every feature of an instance" if spec.data == "equivariant"
                     else f"within each set of {k} features")
            raise ValueError(f"feature_probability: must be equal {where} with "
                             f"data={spec.data!r}")
    return prob


def _importance(spec, name: str, value):
    """Importances >= 0: one, one per feature, or a row per instance."""
    imp = _as_table(name, value, spec.n_features, lambda v: v == 0 or _float32(v),
                    f"a number >= 0 (0 or in {_IN_FLOAT32}), a list of them (one per "
                    "feature) or a list of per-feature lists (one per instance)")
    i = np.asarray(imp, dtype=float)
    if i.ndim == 1 and len(i) != spec.n_features:
        raise ValueError(f"importance: a list must have one value per feature (n_features="
                         f"{spec.n_features}); got {len(i)}. Use a list of lists for "
                         f"per-instance importances")
    if i.ndim == 2 and len(i) != spec.n_instances:
        raise ValueError(f"importance: a list of lists needs one row per instance "
                         f"({spec.n_instances}); got {len(i)}")
    return imp


def _something_to_learn(spec, name: str, value):
    """Some importance above 0 in every instance."""
    idle = np.flatnonzero(~spec.importance_array().any(axis=1))
    if idle.size:
        raise ValueError(f"importance: all 0 for instance {idle[0]} (of {spec.n_instances}): "
                         f"its loss is 0 whatever the model, so there is nothing to learn; "
                         f"give every instance at least one importance > 0")
    return value


def _attack_norm(spec, name: str, value):
    """Norms >= 0, or one per instance; 0 without an attack."""
    value = _numbers(name, value, 1, lambda v: v == 0 or _float32(v),
                     f"a number >= 0 (0 or in {_IN_FLOAT32}) or a list with one per instance")
    if spec.attack is None and value != 0.0:
        raise ValueError(f"attack_norm: only used with an attack (attack is None); got "
                         f"attack_norm={value!r}. Set attack to one of {', '.join(ATTACKS)}")
    return value


def _attack(spec, name: str, value) -> str | None:
    """None, or an attack for a tied model."""
    if value is None:
        return None
    value = _allowed(name, value, ATTACKS)
    if spec.model not in ATTACKED_MODELS:
        raise ValueError(f"attack: only for the tied models {', '.join(ATTACKED_MODELS)}; "
                         f"got model={spec.model!r}")
    return value


def _one_per_instance(spec, name: str, value):
    """A list (of a per-instance field) with one value per instance."""
    if isinstance(value, tuple) and len(value) != spec.n_instances:
        raise ValueError(f"{name}: a list needs one value per instance "
                         f"({spec.n_instances}); got {len(value)}")
    return value


def _not_with_snapshot_every(spec, name: str, value):
    """At most one of ``snapshot_every`` and ``snapshot_log``."""
    if spec.snapshot_every is not None and value is not None:
        raise ValueError("snapshot_every, snapshot_log: give at most one of them; got "
                         f"{spec.snapshot_every!r} and {value!r}")
    return value


#: The checks :class:`~superposition_lib.core.config.ExperimentSpec` makes, in order: rows
#: ``(field, check)``, where ``check(spec, field, value)`` returns the field's normalised value
#: or raises a ``ValueError`` that starts with the field's name (see the module docstring).
FIELD_CHECKS: tuple[tuple[str, _Check], ...] = (
    ("model", _choice(MODELS)),
    ("n_features", _integer()),
    ("n_hidden", _integer()),
    ("data", _data),
    ("set_size", _set_size),
    ("correlation", _per_instance(lambda v: v == 0 or (_float32(v) and v <= 1),
                                  "a number in [0, 1] (0 or at least float32's smallest normal "
                                  f"{FLOAT32_RANGE[0]:.2g}) or a list with one per instance")),
    ("init_scale", _per_instance(_float32, f"a number > 0 (in {_IN_FLOAT32}) or a list with one "
                                 "per instance")),
    ("correlation", _correlated_only),
    ("bump_width", _bump_width),
    ("n_features", _circle),
    ("feature_probability", _feature_probability),
    ("importance", _importance),
    ("importance", _something_to_learn),
    ("attack_norm", _attack_norm),
    ("attack", _attack),
    *((name, _one_per_instance) for name in ("correlation", "bump_width", "init_scale",
                                             "attack_norm")),
    *((name, _integer()) for name in ("steps", "batch_size", "restarts")),
    ("seed", _integer(minimum=0)),
    ("lr", _number(_float32, f"a positive finite number in {_IN_FLOAT32} (training's precision: "
                   "a smaller lr is 0 or subnormal there, and no weight would change)")),
    ("eps", _number(_float32, f"a positive finite number in {_IN_FLOAT32} (Adam divides by it "
                    "in float32)")),
    ("weight_decay", _number(lambda v: v == 0 or _float32(v),
                             f"a finite number >= 0 (0 or in {_IN_FLOAT32})")),
    ("betas", _betas),
    ("warmup_fraction", _number(lambda v: 0 <= v < 1, "a number in [0, 1)")),
    ("lr_schedule", _choice(LR_SCHEDULES)),
    ("optimizer", _choice(OPTIMIZERS)),
    ("init", _choice(INITS)),
    *((name, _integer(optional=True)) for name in ("snapshot_every", "snapshot_log",
                                                   "history_every", "eval_samples")),
    ("snapshot_weights", _boolean),
    ("snapshot_log", _not_with_snapshot_every),
    ("name", _string),
)


def warn_degenerate(spec) -> None:
    """Warn about a valid spec that will probably learn little or nothing, at the line that
    made it (``ExperimentSpec.__post_init__`` calls this).

    Parameters
    ----------
    spec : ExperimentSpec
        A spec whose fields :data:`FIELD_CHECKS` has checked.

    Warns
    -----
    DegenerateSpecWarning
        For ``lr`` below :data:`QUIET_LR`, or a ``feature_probability`` under which a feature is
        expected in less than one training sample; the message starts with the field's name and
        a colon.

    Examples
    --------
    >>> from superposition_lib.core.config import ExperimentSpec
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     spec = ExperimentSpec(lr=1e-9)
    >>> [str(w.message).split(":")[0] for w in caught]
    ['lr']
    >>> warn_degenerate(ExperimentSpec())  # a spec that learns: no warning
    """
    def warn(message):  # at the line that called ExperimentSpec(...)
        warnings.warn(message, DegenerateSpecWarning, stacklevel=5)

    if spec.lr < QUIET_LR:
        warn(f"lr: {spec.lr:g} is below 2**-24 ≈ {QUIET_LR:.2g}, float32's resolution at 1: "
             f"Adam moves a weight by about lr per step, which rounds away for every weight "
             f"larger than lr · 2**24 = {spec.lr / QUIET_LR:.2g}, so the model barely "
             f"learns; use lr >= {QUIET_LR:.2g} (typically 1e-4 to 1e-1)")
    samples = spec.steps * spec.batch_size
    least = float(spec.feature_probability_array().min())
    if least * samples < 1:
        warn(f"feature_probability: {least:g} makes a feature non-zero in about "
             f"{least * samples:.2g} of the {samples:,} samples of the whole training "
             f"(steps × batch_size), so it is probably never seen; use "
             f"feature_probability >= 1 / (steps × batch_size) = {1 / samples:.2g}, or "
             f"train longer")
