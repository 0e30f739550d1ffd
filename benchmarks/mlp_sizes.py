"""MLP sizes on MoA-sized data: fit seconds, the cost model's prediction and validation loss.

On the first outer training split of a benchmark dataset (``moa-nonlinear-24k`` by default,
as ``automoa benchmark`` makes it), each of the first ``--folds`` inner folds gets the ``moa``
space's preprocessing once; then the ``mlp-starter`` start and variants of it (width, batch
size, epochs) are fitted on the fold and scored on its validation rows. Next to each it prints
the cost model's uncalibrated prediction of the fold (preprocessing included), so that the
table shows both what a size costs on this machine and how well the model predicts it.

Usage::

    .venv/bin/python benchmarks/mlp_sizes.py --dataset moa-nonlinear-24k --folds 2 \\
        --out benchmarks/results/mlp_sizes.md
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import time
import warnings
from pathlib import Path

import numpy as np

from automoa.benchmark.tasks import benchmark_tasks
from automoa.deadline import Deadline
from automoa.folds import fold_indices, make_folds
from automoa.metrics import mean_columnwise_log_loss
from automoa.models import get_family
from automoa.preprocessing import prepare_fold
from automoa.search.cost import DataShape, reference_fold_seconds
from automoa.spaces import bind_data, config_from_params, load_space, start_params
from automoa.threads import thread_limit

#: label -> overrides of the mlp-starter start's model parameters
VARIANTS: dict[str, dict[str, object]] = {
    "2 x 1024, batch 128, 25 epochs (mlp-starter)": {},
    "2 x 1024, batch 256, 20 epochs": {"batch_size": 256, "epochs": 20},
    "2 x 1024, batch 512, 15 epochs": {"batch_size": 512, "epochs": 15},
    "resnet2 2 x 768, batch 256, 20 epochs (resnet2 start)": {
        "architecture": "resnet2",
        "hidden_size": 768,
        "dropout": 0.3,
        "batch_size": 256,
        "epochs": 20,
    },
    "3 x 512, batch 512, 25 epochs": {"hidden_size": 512, "n_layers": 3, "batch_size": 512},
    "2 x 512, batch 256, 15 epochs": {"hidden_size": 512, "batch_size": 256, "epochs": 15},
    "2 x 512, batch 512, 15 epochs": {"hidden_size": 512, "batch_size": 512, "epochs": 15},
    "2 x 512, batch 512, 10 epochs (mlp-fast)": {
        "hidden_size": 512,
        "batch_size": 512,
        "epochs": 10,
    },
    "2 x 256, batch 512, 10 epochs": {"hidden_size": 256, "batch_size": 512, "epochs": 10},
    "2 x 256, batch 1024, 10 epochs": {"hidden_size": 256, "batch_size": 1024, "epochs": 10},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="moa-nonlinear-24k")
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/automoa-bench"))
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results/mlp_sizes.md")
    args = parser.parse_args()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # labels without positives in the generated data
        task = next(benchmark_tasks(args.dataset, datasets_dir=None, cache_dir=args.cache_dir))
    data = task.train
    folds = make_folds(data.Y, 5, seed=0, groups=data.groups)
    shape = DataShape.of(data, 5)
    space = bind_data(load_space("moa"), data.feature_names, shape.n_rows, 0)
    starter = next(start for start in space.starts if start.name == "mlp-starter")
    base = config_from_params(space, start_params(space, starter))
    fits: dict[str, list[float]] = {label: [] for label in VARIANTS}
    losses: dict[str, list[float]] = {label: [] for label in VARIANTS}
    prep_seconds: list[float] = []
    with thread_limit(args.cores):
        for fold in range(args.folds):
            train_idx, valid_idx = fold_indices(folds, fold)
            trainable = data.trainable_mask
            train_idx = train_idx[trainable[train_idx]]
            valid_idx = valid_idx[trainable[valid_idx]]
            started = time.perf_counter()
            prepared = prepare_fold(
                base.preprocessing,
                data.X[train_idx],
                data.Y[train_idx],
                data.X[valid_idx],
                None,
                data.feature_names,
            )
            prep_seconds.append(time.perf_counter() - started)
            for label, overrides in VARIANTS.items():
                params = {**base.model_params, **overrides}
                started = time.perf_counter()
                model = get_family("mlp")(**params).fit(
                    prepared.X_train,
                    prepared.Y_train,
                    X_valid=prepared.X_valid,
                    Y_valid=data.Y[valid_idx],
                    deadline=Deadline(1800),
                    device="cpu",
                    loss=base.loss,
                )
                fits[label].append(time.perf_counter() - started)
                proba = model.predict_proba(prepared.X_valid)
                losses[label].append(mean_columnwise_log_loss(data.Y[valid_idx], proba))
                print(f"fold {fold} {label}: {fits[label][-1]:.1f}s {losses[label][-1]:.5f}")

    prep = float(np.mean(prep_seconds))
    lines = [
        "# MLP sizes on MoA-sized data",
        "",
        f"Machine: {platform.machine()}, {args.cores} cores, CPU. Data: {args.dataset}, the "
        f"first outer training split, inner folds 0-{args.folds - 1} ({shape.n_rows} training "
        f"rows per fold, {shape.n_labels} labels; preprocessing {prep:.1f} s per fold). "
        "Every variant is the moa space's `mlp-starter` (BatchNorm, dropout 0.25, weight norm, "
        "OneCycle, label smoothing 0.001) with the changes its name says. Predicted: the cost "
        "model's uncalibrated seconds of a fold, preprocessing included.",
        "",
        f"Command: `.venv/bin/python benchmarks/mlp_sizes.py --dataset {args.dataset} "
        f"--folds {args.folds}`",
        "",
        "| network | fit s (mean) | fold s with preprocessing | predicted s | "
        + " | ".join(f"valid log loss fold {k}" for k in range(args.folds))
        + " | mean | ratio to mlp-starter |",
        "|---" * (6 + args.folds) + "|",
    ]
    reference = float(np.mean(next(iter(losses.values()))))
    for label, overrides in VARIANTS.items():
        config = dataclasses.replace(base, model_params={**base.model_params, **overrides})
        mean_loss = float(np.mean(losses[label]))
        lines.append(
            f"| {label} | {np.mean(fits[label]):.1f} | {np.mean(fits[label]) + prep:.1f} | "
            f"{reference_fold_seconds(config, shape):.1f} | "
            + " | ".join(f"{loss:.5f}" for loss in losses[label])
            + f" | {mean_loss:.5f} | {mean_loss / reference:.3f} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
