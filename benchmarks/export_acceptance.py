"""End to end on MoA-layout data: search -> ensemble -> export -> predict, with the figures.

Writes synthetic MoA-like data with a test split, runs a search on it, exports the study's
ensemble as a bundle, predicts the test features with the loaded bundle, and reports: the best
single trial, the ensemble's stages with their honest estimates, the final ensemble's CV log
loss (hill-climbing and honest), each member's out-of-fold parity, the export and predict
times, the bundle size, and the largest difference between the bundle's test predictions and
the search's own ``submission.csv``.

Usage: python benchmarks/export_acceptance.py [--rows 2000] [--targets 206] [--budget 3m]
    [--space fast] [--seed 0] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import automoa
from automoa.data import make_moa_like


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--targets", type=int, default=206)
    parser.add_argument("--budget", default="3m")
    parser.add_argument("--space", default="fast")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = make_moa_like(root / "data", rows=args.rows, targets=args.targets, seed=args.seed)
        outcome = automoa.search(
            data, budget=args.budget, space=args.space, workdir=root / "work", seed=args.seed
        )
        ensemble = outcome.ensemble
        started = time.perf_counter()
        report = automoa.api.export(root / "bundle", workdir=root / "work")
        export_seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in (root / "bundle").rglob("*") if p.is_file())

        started = time.perf_counter()
        model = automoa.load(root / "bundle")
        features = pd.read_csv(data / "test_features.csv")
        predicted = model.predict_proba(features)
        predict_seconds = time.perf_counter() - started
        submission = pd.read_csv(ensemble.submission)
        test_diff = float(np.abs(predicted.to_numpy() - submission.iloc[:, 1:].to_numpy()).max())

    complete = sum(t.value is not None for t in outcome.study.trials)
    lines = [
        "# Search -> ensemble -> export -> predict on MoA-like data",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}. Command: "
        f"`python benchmarks/export_acceptance.py --rows {args.rows} --targets {args.targets} "
        f"--budget {args.budget} --space {args.space} --seed {args.seed}`.",
        f"Data: make-moa-like, {args.rows} training rows x {args.targets} targets, "
        f"{len(features)} test rows. Search: {len(outcome.study.trials)} trials "
        f"({complete} complete) in {outcome.seconds:.0f} s.",
        "",
        "| stage | honest CV log loss | kept | note |",
        "|---|---|---|---|",
        *[
            f"| {s['stage']} | "
            f"{'' if s['honest_score'] is None else format(s['honest_score'], '.5f')} "
            f"| {'yes' if s['kept'] else 'no'} | {s['note']} |"
            for s in ensemble.stages
        ],
        "",
        f"- Best single trial: **{ensemble.best_single:.5f}**.",
        f"- Ensemble ({ensemble.method}, {len(ensemble.members)} members of "
        f"{ensemble.n_candidates} candidates): CV log loss **{ensemble.score:.5f}** "
        f"(fitted on all rows), honest **{ensemble.honest_score:.5f}**.",
        f"- Export: {export_seconds:.1f} s, bundle {size / 2**20:.1f} MiB.",
        f"- Load + predict {len(features)} test rows: {predict_seconds:.2f} s; largest "
        f"difference from the search's submission.csv: {test_diff:.2e}.",
        "",
        "| member | family | weight | source | OOF parity max abs diff | seconds |",
        "|---|---|---|---|---|---|",
        *[
            f"| trial {m.trial} | {m.family} | {m.weight:.3f} | {m.source} "
            f"| {m.max_abs_diff:.2e} | {m.seconds:.1f} |"
            for m in report.members
        ],
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "export_acceptance.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
