"""Preprocessing on MoA-sized data: time of each step, and the cache hit rate of a search.

1. On one training fold of ``make-moa-like`` data with 24k rows (about 17.5k training rows
   after controls and the validation fold are removed, 876 features, 206 labels), fits and
   transforms each step with MoA-typical parameters and reports the seconds.
2. Runs a 30-trial search whose only model is the near-free ``prior`` family over the
   preprocessing dimensions of the ``moa`` space, so that the time is preprocessing time, and
   reports how many step fits the shared cache saved.

Usage: python benchmarks/preprocessing_steps.py [--rows 24000] [--trials 30] [--out DIR]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from importlib.resources import files
from pathlib import Path

import numpy as np
import optuna
import yaml

from automoa.config import StepConfig
from automoa.data import load, make_moa_like
from automoa.folds import fold_indices, make_folds
from automoa.preprocessing import prepare_fold
from automoa.search.controller import run_search
from automoa.search.settings import SearchSettings
from automoa.search.study import resolve_location
from automoa.spaces import load_space

STEPS = [
    ("quantile (n_quantiles=100)", [StepConfig("quantile", {"n_quantiles": 100})]),
    ("pca genes (g-, 100 components)", [StepConfig("pca", {"group": "g-", "n_components": 100})]),
    ("pca cells (c-, 30 components)", [StepConfig("pca", {"group": "c-", "n_components": 30})]),
    ("variance (threshold 0.8)", [StepConfig("variance", {"threshold": 0.8})]),
    ("rowstats (auto groups, all stats)", [StepConfig("rowstats", {})]),
    ("onehot (max_levels 10)", [StepConfig("onehot", {})]),
    ("mlsmote (k=5, amount=1)", [StepConfig("mlsmote", {"k": 5, "amount": 1.0})]),
    ("oversample (min_positives=20)", [StepConfig("oversample", {"min_positives": 20})]),
]


def time_steps(dataset) -> list[tuple[str, float, str]]:
    """Seconds to fit one step on a training fold and transform its validation/test rows."""
    folds = make_folds(dataset.Y, 5, seed=0, groups=dataset.groups)
    train_idx, valid_idx = fold_indices(folds, 0)
    trainable = dataset.trainable_mask
    train_idx, valid_idx = train_idx[trainable[train_idx]], valid_idx[trainable[valid_idx]]
    rows = []
    for label, configs in STEPS:
        started = time.perf_counter()
        prepared = prepare_fold(
            configs,
            dataset.X[train_idx],
            dataset.Y[train_idx],
            dataset.X[valid_idx],
            dataset.X_test,
            dataset.feature_names,
            seed=0,
        )
        seconds = time.perf_counter() - started
        shape = f"{prepared.X_train.shape[0]} x {prepared.X_train.shape[1]}"
        rows.append((label, seconds, shape))
        print(f"{label}: {seconds:.2f}s -> train {shape}")
    return rows


def cache_search(dataset, trials: int, workdir: Path) -> dict[str, object]:
    """A prior-only search over the moa space's preprocessing; returns the cache statistics."""
    document = yaml.safe_load((files("automoa.search_spaces") / "moa.yaml").read_text())
    document["name"] = "moa-preprocessing"
    document["models"] = {"prior": {}}
    space_path = workdir / "space.yaml"
    space_path.write_text(yaml.safe_dump(document))
    started = time.perf_counter()
    outcome = run_search(
        dataset,
        resolve_location("bench", workdir),
        load_space(space_path),
        SearchSettings(budget_seconds=3600, max_trials=trials),
    )
    seconds = time.perf_counter() - started
    stats = outcome.cache_stats
    return {
        "seconds": seconds,
        "trials": outcome.trials_run,
        "hits": stats.hits,
        "misses": stats.misses,
        "hit_rate": stats.hit_rate,
        "compute": stats.compute_seconds,
        "saved": stats.seconds_saved(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=24000)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        dataset = load(make_moa_like(tmp_path / "moa", rows=args.rows, seed=0))
        step_rows = time_steps(dataset)
        cache = cache_search(dataset, args.trials, tmp_path)
    lines = [
        f"# Preprocessing steps on MoA-like data ({args.rows} rows, 876 features, 206 labels)",
        "",
        f"Machine: {platform.machine()}, 2 cores; Python {platform.python_version()}, "
        f"optuna {optuna.__version__}, numpy {np.__version__}.",
        "Command: `python benchmarks/preprocessing_steps.py`.",
        "",
        "## One step on one training fold (fit + transform of training, validation, test rows)",
        "",
        "| step | seconds | training rows x columns after |",
        "|---|---|---|",
        *(f"| {label} | {seconds:.2f} | {shape} |" for label, seconds, shape in step_rows),
        "",
        f"## Cache over a {cache['trials']}-trial search (prior model, `moa` preprocessing)",
        "",
        "A hit is a step whose fitted output on a fold was reused from an earlier trial.",
        "",
        "| step | hits | misses (computed) | compute seconds |",
        "|---|---|---|---|",
    ]
    for step in sorted(set(cache["hits"]) | set(cache["misses"])):
        lines.append(
            f"| {step} | {cache['hits'].get(step, 0)} | {cache['misses'].get(step, 0)} "
            f"| {cache['compute'].get(step, 0.0):.0f} |"
        )
    spent = sum(cache["compute"].values())
    lines += [
        "",
        f"Hit rate {cache['hit_rate']:.1%} of step lookups. Preprocessing computed: {spent:.0f}s; "
        f"estimated time the hits saved: {cache['saved']:.0f}s "
        f"({cache['saved'] / (spent + cache['saved']):.0%} of the preprocessing work). "
        f"Search wall time {cache['seconds']:.0f}s.",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "preprocessing_steps.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
