"""Cost of recording log-spaced snapshots during training, side by side.

Learning-dynamics work (``superposition_lib.analysis.dynamics``) needs the weights at about 200
log-spaced steps (``ExperimentSpec.snapshot_log``). Each snapshot copies W and b to the host and
measures every model's loss on a fixed evaluation batch. This script trains the same spec with
and without snapshots in one process, alternating, and prints the training time of each and the
overhead ratio. The requirement is an overhead of at most 20%.

The default workload is a uniform-superposition dynamics run: n=200 features, m=20 hidden
dimensions, 4 instances with feature probabilities 0.1, 0.05, 0.03, 0.02 (where features settle
into antipodal pairs), importance 1, batch 1024, 2000 steps, with 200 distinct log-spaced
snapshot steps (``snapshot_log`` is raised until rounding to integer steps leaves 200).

Times run from the ``train()`` call to the end of its last update: they include initialisation,
drawing the 4096-sample snapshot evaluation batch and every snapshot, and leave out only the final
loss evaluation. Wall time and CPU time (all threads of the process) are reported, and, because on
a machine shared with other work whole runs can vary by 2x from one repeat to the next, also an
in-run estimate: the time spent inside the snapshot calls over the rest of the same run (timed by
wrapping the trainer's snapshot pieces), which load changes affect evenly.

Run ``python benchmarks/snapshots.py [--steps N] [--snapshots K] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import time

# Imported first, as in any program that uses the library: it sets its OpenMP defaults before
# torch loads (see superposition_lib/__init__.py).
from superposition_lib import ExperimentSpec, train  # isort: skip

import numpy as np
import torch

from superposition_lib.core.snapshots import FixedBatchLoss, Recorder


def timed_train(spec: ExperimentSpec) -> tuple[float, float, float]:
    """Train ``spec``; return (wall seconds, CPU seconds, wall seconds inside snapshots).

    The first two run from the call to the end of the last update (a ``callback``), so they
    count every cost of snapshots (drawing the evaluation batch, the step-0 snapshot and the
    later ones) and leave out only the final loss evaluation, which both variants share; CPU
    time sums all threads of this process. The third is the time spent recording snapshots
    (measuring the loss on the fixed batch and copying the weights), timed around each call
    inside this same run, so that load from other processes affects it and the training steps
    alike.
    """
    end = []
    inside = [0.0]

    def stamp(step: int) -> None:
        if step == spec.steps:
            end.append((time.perf_counter(), time.process_time()))

    def timed(method):
        def wrapper(*args, **kwargs):
            t = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                inside[0] += time.perf_counter() - t
        return wrapper

    # The trainer's snapshot pieces, timed where they are called.
    loss_call = FixedBatchLoss.__call__
    record = Recorder.snapshot
    FixedBatchLoss.__call__ = timed(loss_call)
    Recorder.snapshot = timed(record)
    try:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        run = train(spec, progress=False, callback=stamp)
    finally:
        FixedBatchLoss.__call__ = loss_call
        Recorder.snapshot = record
    assert len(run.snapshots.steps) == len(spec.snapshot_steps())
    return end[0][0] - wall0, end[0][1] - cpu0, inside[0]


def log_count(spec: ExperimentSpec, wanted: int) -> int:
    """Smallest ``snapshot_log`` giving at least ``wanted`` distinct snapshot steps.

    Rounding log-spaced steps to integers merges the early ones (``snapshot_log=200`` over 2000
    steps gives 141 distinct steps), so the value asked for is raised until enough remain.
    """
    count = min(wanted, spec.steps + 1)
    while len(spec.replace(snapshot_log=count).snapshot_steps()) < min(wanted, spec.steps + 1):
        count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="features (default 200)")
    parser.add_argument("--m", type=int, default=20, help="hidden dimensions (default 20)")
    parser.add_argument("--steps", type=int, default=2000, help="training steps (default 2000)")
    parser.add_argument("--snapshots", type=int, default=200,
                        help="distinct log-spaced snapshot steps wanted (default 200)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="alternating repeats; the best time of each kept (default 3)")
    args = parser.parse_args()
    spec = ExperimentSpec(n_features=args.n, n_hidden=args.m,
                          feature_probability=[0.1, 0.05, 0.03, 0.02], importance=1.0,
                          steps=args.steps, batch_size=1024, name="snapshot-benchmark")
    with_snaps = spec.replace(snapshot_log=log_count(spec, args.snapshots))
    k = len(with_snaps.snapshot_steps())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; n={args.n}, "
          f"m={args.m}, {spec.n_models} instances, batch {spec.batch_size}, {args.steps} steps, "
          f"snapshot_log={with_snaps.snapshot_log} ({k} distinct snapshot steps)")
    for variant in (spec, with_snaps):  # warm-up: compiled kernels, allocator, caches
        train(variant.replace(steps=50), progress=False)
    times = {False: [], True: []}                # (wall, cpu, inside snapshots) per repeat
    for r in range(args.repeats):
        for use in ((False, True) if r % 2 == 0 else (True, False)):
            times[use].append(timed_train(with_snaps if use else spec))
        (pw, pc, _), (sw, sc, si) = times[False][-1], times[True][-1]
        print(f"repeat {r + 1}: no snapshots {pw:6.2f} s wall, {pc:6.2f} s CPU | snapshots "
              f"{sw:6.2f} s wall, {sc:6.2f} s CPU, {si:5.2f} s of it recording them "
              f"({si / k * 1e3:.1f} ms each) | overhead {sw / pw - 1:+.1%} wall, "
              f"{sc / pc - 1:+.1%} CPU, {si / (sw - si):+.1%} in-run")
    plain, snap = np.array(times[False]), np.array(times[True])
    best = snap[:, :2].min(0) / plain[:, :2].min(0) - 1
    median = np.median(snap[:, :2] / plain[:, :2], axis=0) - 1
    in_run = np.median(snap[:, 2] / (snap[:, 0] - snap[:, 2]))
    print(f"best of {args.repeats}: no snapshots {plain[:, 0].min():.2f} s "
          f"({args.steps / plain[:, 0].min():.0f} steps/s), snapshots {snap[:, 0].min():.2f} s; "
          f"overhead {best[0]:+.1%} wall, {best[1]:+.1%} CPU (median of repeats "
          f"{median[0]:+.1%} wall, {median[1]:+.1%} CPU); in-run share of snapshot recording "
          f"(median) {in_run:+.1%}")


if __name__ == "__main__":
    main()
