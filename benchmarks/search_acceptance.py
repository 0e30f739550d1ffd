"""Timed searches that check the model families earn their place.

1. Bundled yeast (14 labels), ``default`` space.
2. ``make-moa-like`` data with 2,000 rows and 206 targets, ``fast`` space.

Each search gets the same wall-clock budget. Reported per data set: trials per family, the
best CV log loss of each family, the overall best, and whether it beats the best ``linear``
trial (the acceptance check of the model-families issue).

Usage: python benchmarks/search_acceptance.py [--budget 3m] [--seed 0] [--out DIR]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
from pathlib import Path

import optuna

import automoa
from automoa.data import load, make_moa_like
from automoa.deadline import parse_duration


def summarise(label: str, outcome) -> list[str]:
    """Table rows: one per family, then the verdict."""
    trials = outcome.study.get_trials(deepcopy=False)
    per_family: dict[str, list[float]] = {}
    states: dict[str, dict[str, int]] = {}
    for trial in trials:
        family = trial.params.get("model.family")
        if family is None:
            continue
        counts = states.setdefault(family, {})
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
        if trial.state == optuna.trial.TrialState.COMPLETE:
            per_family.setdefault(family, []).append(trial.value)
    best = {family: min(values) for family, values in per_family.items()}
    overall = min(best.values())
    winner = min(best, key=best.get)
    rows = []
    for family in sorted(states):
        count = ", ".join(f"{n} {state.lower()}" for state, n in sorted(states[family].items()))
        value = f"{best[family]:.5f}" if family in best else "-"
        rows.append(f"| {label} | {family} | {count} | {value} |")
    beats = "linear" in best and overall < best["linear"]
    verdict = (
        f"**{label}**: best {overall:.5f} ({winner}); best linear "
        f"{best.get('linear', float('nan')):.5f}; beats linear: {'yes' if beats else 'no'}; "
        f"families that completed a trial: {', '.join(sorted(best))}; "
        f"prior {outcome.meta.prior_cv_log_loss:.5f}."
    )
    print(verdict)
    return [*rows, "", verdict, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="3m")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    budget = parse_duration(args.budget)

    sections: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        runs = [
            ("yeast (default space)", automoa.datasets.load_yeast(), "default"),
            (
                "moa-like 2k x 206 (fast space)",
                load(make_moa_like(work / "moa", rows=2000, seed=0)),
                "fast",
            ),
        ]
        for label, data, space in runs:
            outcome = automoa.search(
                data, budget=args.budget, space=space, workdir=work / space, seed=args.seed
            )
            sections += [
                "| data | family | trials | best CV log loss |",
                "|---|---|---|---|",
                *summarise(label, outcome),
            ]

    lines = [
        "# Search acceptance: every family searched, the best beats linear",
        "",
        f"Machine: {platform.processor() or platform.machine()}; budget {budget:.0f}s per "
        f"search, seed {args.seed}, 5 folds. CV log loss over all rows (MoA convention).",
        "",
        *sections,
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "search_acceptance.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
