"""Wall time of one fold per model family on MoA-sized data.

On fold 0 of ``make-moa-like`` data with 24k rows and 206 targets (controls dropped), the
``moa`` space's preprocessing (rank-gauss, gene and cell PCA appended, variance filter) is
fitted once, then each family is fitted with its ``moa`` configuration (the space's start for
the torch families, the default configuration otherwise) and predicts the validation rows.
Reports fit and predict seconds, the validation log loss, and the epochs or rounds used.

Usage: python benchmarks/family_fold_time.py [--rows 24000] [--families mlp,tabnet]
       [--device cpu] [--max-seconds 1200]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from automoa.data import load, make_moa_like
from automoa.deadline import Deadline
from automoa.exceptions import BudgetExhausted
from automoa.folds import fold_indices, make_folds
from automoa.metrics import mean_columnwise_log_loss
from automoa.models import get_family
from automoa.preprocessing import prepare_fold
from automoa.spaces import bind_data, config_from_params, default_params, load_space, start_params

#: family label -> (family, start name or None for the default configuration)
CONFIGS = {
    "linear": ("linear", None),
    "xgboost": ("xgboost", None),
    "mlp (mlp-starter)": ("mlp", "mlp-starter"),
    "mlp resnet2": ("mlp", "resnet2"),
    "mlp + aux multitask": ("mlp", "mlp-aux-multitask"),
    "tabnet (tabnet-moa)": ("tabnet", "tabnet-moa"),
}


def _used(model) -> str:
    if hasattr(model, "n_rounds"):
        return f"{model.n_rounds} rounds"
    if hasattr(model, "nets"):
        return f"{len(model.nets)} net(s)"
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=24000)
    parser.add_argument("--families", default=",".join(CONFIGS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--max-seconds", type=float, default=1200.0, help="per family")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        dataset = load(make_moa_like(Path(tmp) / "moa", rows=args.rows, seed=0))
    folds = make_folds(dataset.Y, 5, seed=0, groups=dataset.groups)
    train_idx, valid_idx = fold_indices(folds, 0)
    trainable = dataset.trainable_mask
    train_idx, valid_idx = train_idx[trainable[train_idx]], valid_idx[trainable[valid_idx]]
    n_aux = 0 if dataset.Y_aux is None else int((dataset.Y_aux.sum(axis=0) > 0).sum())
    space = bind_data(load_space("moa"), dataset.feature_names, len(train_idx), n_aux)
    starts = {start.name: start for start in space.starts}

    rows = []
    prepared_chain = None
    for label in args.families.split(","):
        label = label.strip()
        family, start = CONFIGS[label]
        params = start_params(space, starts[start]) if start else default_params(space, family)
        config = config_from_params(space, params)
        started = time.perf_counter()
        prepared = prepare_fold(
            config.preprocessing,
            dataset.X[train_idx],
            dataset.Y[train_idx],
            dataset.X[valid_idx],
            None,
            dataset.feature_names,
        )
        prep_seconds = time.perf_counter() - started
        prepared_chain = prepared_chain or prepared.X_train.shape
        started = time.perf_counter()
        try:
            model = get_family(family)(**config.model_params).fit(
                prepared.X_train,
                prepared.Y_train,
                X_valid=prepared.X_valid,
                Y_valid=dataset.Y[valid_idx],
                deadline=Deadline(args.max_seconds),
                device=args.device,
                loss=config.loss,
                Y_aux=None if dataset.Y_aux is None else dataset.Y_aux[train_idx],
            )
        except BudgetExhausted as exc:
            fit_seconds = time.perf_counter() - started
            cut = f"stopped at --max-seconds: {exc}"
            rows.append((label, prep_seconds, fit_seconds, float("nan"), float("nan"), cut))
            print(f"{label}: over {args.max_seconds:.0f}s", flush=True)
            continue
        fit_seconds = time.perf_counter() - started
        started = time.perf_counter()
        proba = model.predict_proba(prepared.X_valid)
        predict_seconds = time.perf_counter() - started
        loss = mean_columnwise_log_loss(dataset.Y[valid_idx], proba)
        rows.append((label, prep_seconds, fit_seconds, predict_seconds, loss, _used(model)))
        print(
            f"{label}: prep {prep_seconds:.1f}s fit {fit_seconds:.1f}s "
            f"predict {predict_seconds:.2f}s valid log loss {loss:.5f} {_used(model)}",
            flush=True,
        )

    prior = np.tile(dataset.Y[train_idx].mean(axis=0), (len(valid_idx), 1))
    lines = [
        "# One fold per model family on MoA-like data",
        "",
        f"Machine: {platform.processor() or platform.machine()}, device {args.device}. "
        f"Data: fold 0 of make-moa-like ({args.rows} rows, 206 targets): "
        f"{len(train_idx)} training rows, {len(valid_idx)} validation rows (controls dropped); "
        f"features after the moa space's "
        f"preprocessing: {prepared_chain}. Validation log loss of the training prior: "
        f"{mean_columnwise_log_loss(dataset.Y[valid_idx], prior):.5f}.",
        "",
        "| family (configuration) | preprocessing s | fit s | predict s | valid log loss | used |",
        "|---|---|---|---|---|---|",
    ]
    for label, prep, fit, predict, loss, used in rows:
        lines.append(f"| {label} | {prep:.1f} | {fit:.1f} | {predict:.2f} | {loss:.5f} | {used} |")
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.device == "cpu" else f"_{args.device}"
    (args.out / f"family_fold_time{suffix}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
