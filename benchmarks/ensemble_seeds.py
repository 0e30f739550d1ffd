"""The gain from seed-averaged ensemble members, per kept benchmark run.

For each run directory kept by ``automoa benchmark --keep-workdirs`` (``RUNS/<dataset>-...``),
a working copy is made (artifacts hard-linked, the study database copied, so the kept run is
never changed), and the ensemble is built twice with :func:`automoa.api.ensemble` and no time
limit: once as the search left it, once with ``--seeds N`` extra seeds for every selected
member. The table gives both honest estimates, the ensemble step's own ``seed_gain``, both
held-out scores on the benchmark task's held-out rows, and the seconds the extra seeds took.

Usage::

    .venv/bin/python benchmarks/ensemble_seeds.py --runs benchmarks/results/ensemble/runs \\
        --match yeast --match scene --seeds 1 --out benchmarks/results/ensemble/seeds.md
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from automoa.api import ensemble
from automoa.benchmark.runner import kept_run_task
from automoa.benchmark.tasks import default_datasets_dir
from automoa.metrics import mean_columnwise_log_loss


def _working_copy(run: Path, into: Path) -> Path:
    """Hard links for the write-once artifacts and cache; a real copy of what gets rewritten."""
    copy = into / run.name
    shutil.copytree(run, copy, copy_function=os.link)
    for name in ("automoa.db", "automoa.db-journal"):
        if (copy / name).exists():
            (copy / name).unlink()
            shutil.copy2(run / name, copy / name)
    return copy


def _row(run: Path, study: str, seeds: int, scratch: Path) -> str:
    task = kept_run_task(run, datasets_dir=default_datasets_dir(), cache_dir=scratch)
    data = task.train
    copy = _working_copy(run, scratch)

    def held_out(report) -> float:
        frame = pd.read_csv(report.submission)
        proba = frame[list(data.target_names)].to_numpy(dtype=np.float64)
        if data.test_known_negative is not None:
            proba[data.test_known_negative] = 0.0
        return mean_columnwise_log_loss(task.Y_test, proba)

    without = ensemble(data, study=study, workdir=copy)
    held_out_without = held_out(without)  # read now: the second ensemble rewrites the file
    started = time.perf_counter()
    with_seeds = ensemble(data, study=study, workdir=copy, seeds=seeds)
    seconds = time.perf_counter() - started
    gain = "-" if with_seeds.seed_gain is None else f"{with_seeds.seed_gain:+.6f}"
    kept = "yes" if with_seeds.seed_groups else "no"
    return (
        f"| {run.name} | {len(without.members)} | {without.honest_score:.6f} | "
        f"{with_seeds.honest_score:.6f} | {gain} | {kept} | {held_out_without:.6f} | "
        f"{held_out(with_seeds):.6f} | {seconds:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--match", action="append", default=[], help="run name substring")
    parser.add_argument("--study", default="bench")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    runs = sorted(
        p for p in args.runs.iterdir() if not args.match or any(m in p.name for m in args.match)
    )
    warnings.filterwarnings("ignore")
    lines = [
        "# Seed-averaged ensemble members",
        "",
        "Written by `benchmarks/ensemble_seeds.py` from the studies kept by the benchmark. "
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, CPU. Extra seeds per "
        f"member: {args.seeds}. Command: `.venv/bin/python benchmarks/ensemble_seeds.py "
        f"--runs {args.runs} {' '.join(f'--match {m}' for m in args.match)} "
        f"--seeds {args.seeds} --out {args.out}`.",
        "",
        "Both ensembles are built without a time limit on a copy of the run. Seed gain: the "
        "honest estimate without the seed siblings minus with them (positive: they helped); "
        "the siblings are kept only when it is positive.",
        "",
        "| run | members | honest | honest with seeds | seed gain | kept | held-out | "
        "held-out with seeds | seconds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory(dir=args.out.parent) as tmp:
        for run in runs:
            print(run.name, flush=True)
            lines.append(_row(run, args.study, args.seeds, Path(tmp)))
            print(lines[-1], flush=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
