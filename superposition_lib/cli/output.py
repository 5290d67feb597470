"""What the ``superposition`` command prints: run summaries and tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from ..core.config import ExperimentSpec
    from ..core.run import Run
    from ..core.store import RunStore

__all__ = ["SHOW_ROWS", "summary_table"]

#: Most models ``show`` prints one row for before it summarises (``--all`` prints every row).
SHOW_ROWS = 40


def summary_table(run: Run) -> pd.DataFrame:
    """Per-model summary of a run: density, loss, represented features and D*.

    Parameters
    ----------
    run : Run
        A trained run with ``W`` of shape (models, m, n).

    Returns
    -------
    pandas.DataFrame
        One row per model with columns ``instance``, ``restart`` (only when the spec has
        restarts), ``density`` (mean feature probability 1 − S), ``loss``, ``loss_se``,
        ``represented`` (features with ‖W_i‖ > 0.5,
        :func:`~superposition_lib.core.metrics.n_represented`) and ``D*``
        (:func:`~superposition_lib.core.metrics.dimensions_per_feature`).

    Examples
    --------
    >>> from superposition_lib import ExperimentSpec, train
    >>> run = train(ExperimentSpec(feature_probability=[1.0, 0.5], steps=50, batch_size=128),
    ...             progress=False)
    >>> list(summary_table(run).columns)
    ['instance', 'density', 'loss', 'loss_se', 'represented', 'D*']
    """
    import pandas as pd

    from ..core import metrics

    table = {"instance": run.instance}
    if run.spec.restarts > 1:
        table["restart"] = run.restart
    table.update({
        "density": run.feature_probability.mean(axis=1),
        "loss": run.loss,
        "loss_se": run.loss_se,
        "represented": metrics.n_represented(run.W),
        "D*": metrics.dimensions_per_feature(run.W),
    })
    return pd.DataFrame(table)


def _format_table(run: Run) -> str:
    df = summary_table(run)
    shown = df.drop(columns=["loss", "loss_se"]).copy()
    shown.insert(shown.columns.get_loc("density") + 1, "loss ± se",
                 [f"{loss:.4g} ± {se:.2g}" for loss, se in zip(df["loss"], df["loss_se"])])
    shown["density"] = [f"{d:.4g}" for d in df["density"]]
    shown["represented"] = [f"{r} / {run.spec.n_features}" for r in df["represented"]]
    shown["D*"] = [f"{d:.3f}" for d in df["D*"]]
    return shown.to_string(index=False)


def _table(rows: list[dict]) -> str:
    """Rows of equal keys as a plain text table, one line each."""
    import pandas as pd

    return pd.DataFrame(rows).to_string(index=False)


def _describe(spec: ExperimentSpec) -> str:
    return (f"{spec.model}, n={spec.n_features}, m={spec.n_hidden}, "
            f"{spec.n_instances} instance{'s' if spec.n_instances != 1 else ''}"
            f"{f' x {spec.restarts} restarts' if spec.restarts > 1 else ''}, "
            f"{spec.steps} steps, batch {spec.batch_size}, seed {spec.seed}")


def _format_summary(run: Run) -> str:
    """Per-density quartiles of loss, represented features and D*, for runs with many models."""
    df = summary_table(run)
    df["density"] = df["density"].round(6)
    rows = []
    for density, g in df.groupby("density", sort=False):
        row = {"density": f"{density:.4g}", "models": len(g)}
        for name, fmt in (("loss", ".4g"), ("represented", ".0f"), ("D*", ".3f")):
            q = g[name].quantile([0.25, 0.5, 0.75]).to_numpy()
            row[f"{name} (median, IQR)"] = f"{q[1]:{fmt}} ({q[0]:{fmt}}-{q[2]:{fmt}})"
        rows.append(row)
    return _table(rows)


def _print_run(run: Run, store: RunStore, *, trained: bool | None = None,
               every_row: bool = False) -> None:
    """A run's key, entry, provenance and per-model table. ``trained`` says whether this command
    trained it (True) or loaded it (False); None (``show``) says neither."""
    key = run.spec.key()
    manifest = store.manifest(key)
    print(f"run {key}{f' ({run.spec.name})' if run.spec.name else ''}: {_describe(run.spec)}")
    print(f"cached in {store.path(key)}")
    took = f"{run.wall_time:.1f} s"
    origin = (f"just trained, in {took}" if trained
              else f"trained in {took} on {manifest.get('created')}")
    if trained is False:
        origin = f"loaded from the cache ({origin})"
    print(f"{origin}; library {manifest.get('library_version')}, "
          f"torch {manifest.get('torch_version')}"
          f"{', device ' + manifest['device'] if manifest.get('device') else ''}")
    print(_numerics_line(manifest.get("numerics")))
    if every_row or len(run.loss) <= SHOW_ROWS:
        print(f"final loss on {run.eval_samples} samples per model:")
        print(_format_table(run))
    else:
        print(f"{len(run.loss)} models, summarised by density (--all prints every model):")
        print(_format_summary(run))


def _numerics_line(record: dict | None) -> str:
    """What computed a run (its manifest's ``numerics``), and whether that is stale."""
    from ..core.config import NUMERICS_VERSION

    if not record:
        return (f"numerics: not recorded (stored before numerics versions): stale until "
                f"`superposition verify` shows that it reproduces with version {NUMERICS_VERSION}")
    path = (f"{record.get('step')} step on {record.get('device')}, random stream "
            f"{record.get('random_stream')}, kernels {record.get('kernel_isa')}, torch "
            f"{record.get('torch_cpu_capability')}")
    if record.get("version") == NUMERICS_VERSION:
        return f"numerics: version {NUMERICS_VERSION} (current): {path}"
    return (f"numerics: version {record.get('version')}, stale (this library computes version "
            f"{NUMERICS_VERSION}): {path}")


def _run_row(name: str, spec: ExperimentSpec, run: Run, trained: bool) -> dict:
    return {"experiment": name, "key": spec.key(), "status": "trained" if trained else "cached",
            "train_s": round(run.wall_time, 1), "mean_loss": f"{run.loss.mean():.4g}"}


def _print_runs(rows: list[dict], profile: str, store: RunStore) -> None:
    print(f"profile {profile}, store {store.runs_dir} (train_s: the training's wall time):")
    print(_table(rows))
