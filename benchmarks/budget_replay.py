"""Whether a longer search replayed a shorter one: the trials two budgets have in common.

A search is meant to make the same decisions whatever its budget, so that a longer run scores
the shorter run's trials first and then goes further: its best trial can then only be as good
or better. This compares two studies kept by ``automoa benchmark --keep-workdirs`` on the same
data and seed (for example the 5- and 15-minute runs of one dataset) trial by trial: the
longest common prefix of (parameters, state, folds finished, value), the first trial where they
part and why, and each study's best CV score. The shorter run's last trials are expected to
part: its deadline refuses or stops them.

Usage::

    .venv/bin/python benchmarks/budget_replay.py --short RUN_5M --long RUN_15M \\
        --title yeast --out benchmarks/results/ensemble/replay.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import optuna
from optuna.trial import FrozenTrial, TrialState

from automoa.search.record import TrialRecord
from automoa.search.study import resolve_location


def _load(run: Path, study_name: str) -> list[FrozenTrial]:
    location = resolve_location(study_name, run)
    study = optuna.load_study(study_name=study_name, storage=location.storage)
    return [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]


def _key(trial: FrozenTrial) -> tuple:
    folds = len(TrialRecord.read(trial).fold_scores or [])
    return (trial.params, trial.state, folds, trial.value)


def _describe(trial: FrozenTrial) -> str:
    record = TrialRecord.read(trial)
    folds = len(record.fold_scores or [])
    value = "-" if trial.value is None else f"{trial.value:.5f}"
    reason = record.prune_reason or ""
    family = record.family or "?"
    return f"{family}, {trial.state.name.lower()}, {folds} folds, {value}" + (
        f" ({reason})" if reason else ""
    )


def _best(trials: list[FrozenTrial]) -> float:
    values = [t.value for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    return min(values) if values else float("nan")


def compare(short: list[FrozenTrial], long: list[FrozenTrial]) -> list[str]:
    """Markdown lines: the common prefix, the first parting, the best CV score of each."""
    common = 0
    while common < min(len(short), len(long)) and _key(short[common]) == _key(long[common]):
        common += 1
    lines = [
        f"- trials: {len(short)} in the shorter run, {len(long)} in the longer; the first "
        f"{common} are the same (parameters, state, folds finished and CV score).",
    ]
    if common < min(len(short), len(long)):
        lines.append(
            f"- first to part: trial {common}: shorter run {_describe(short[common])}; "
            f"longer run {_describe(long[common])}."
        )
    lines.append(
        f"- best complete trial's CV score: shorter run {_best(short):.5f}, "
        f"longer run {_best(long):.5f}."
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=Path, required=True, help="the shorter run's directory")
    parser.add_argument("--long", type=Path, required=True, help="the longer run's directory")
    parser.add_argument("--study", default="bench")
    parser.add_argument("--title", required=True)
    parser.add_argument("--out", type=Path, help="append the section to this file")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    lines = [
        f"## {args.title}",
        "",
        f"Shorter run `{args.short}`, longer run `{args.long}`.",
        "",
        *compare(_load(args.short, args.study), _load(args.long, args.study)),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        with args.out.open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
