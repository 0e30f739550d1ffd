"""How a search spent its budget: trials per fidelity rung, queue against sampler, cost model.

Reads a finished study (for example one kept by ``automoa benchmark --keep-workdirs``) and
appends a Markdown section to the output file:

- configurations scored on at least one fold, and how many of them the sampler proposed
  (the others came from the queue of first trials);
- trials by the number of folds they finished (the fidelity rungs of fold-level halving);
- the cost model: predicted against actual seconds of every trial that ran a fold (the
  prediction made before its first fold, times the folds it ran), with the median absolute
  error;
- each search invocation's budget, wall seconds and overrun.

Usage::

    .venv/bin/python benchmarks/search_schedule.py --workdir RUN_DIR --study bench \\
        --title "moa-nonlinear-24k, 15 minutes" --out benchmarks/results/search_schedule.md
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import numpy as np
import optuna

from automoa.search.pruning import rung_counts
from automoa.search.record import TrialRecord
from automoa.search.study import resolve_location, search_runs


def _analyse(study: optuna.Study, n_splits: int) -> list[str]:
    trials = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
    ran = [t for t in trials if TrialRecord.read(t).fold_seconds]
    sampled = [t for t in ran if "fixed_params" not in t.system_attrs]
    lines = [
        f"- trials: {len(trials)} finished; {len(ran)} configurations scored on at least one "
        f"fold, {len(sampled)} of them proposed by the sampler "
        f"({len(ran) - len(sampled)} from the queue of first trials); "
        f"{len(trials) - len(ran)} stopped before their first fold (predicted not to fit).",
        "",
        "| folds finished | " + " | ".join(str(k) for k in range(1, n_splits + 1)) + " |",
        "|---" * (n_splits + 1) + "|",
        "| trials | " + " | ".join(str(v) for v in rung_counts(trials, n_splits).values()) + " |",
        "",
        "| trial | family | state | folds | predicted s | actual s | error s |",
        "|---|---|---|---|---|---|---|",
    ]
    errors, relative = [], []
    for trial in ran:
        record = TrialRecord.read(trial)
        seconds = record.fold_seconds
        predicted_fold = record.predicted_fold_seconds
        if predicted_fold is None:
            continue
        predicted = predicted_fold * len(seconds)
        actual = float(sum(seconds))
        errors.append(abs(predicted - actual))
        relative.append(abs(np.log(max(predicted, 1e-3) / max(actual, 1e-3))))
        lines.append(
            f"| {trial.number} | {record.family or '?'} | {trial.state.name} | "
            f"{len(seconds)} | {predicted:.1f} | {actual:.1f} | {predicted - actual:+.1f} |"
        )
    if errors:
        lines += [
            "",
            f"- cost model: median absolute error {np.median(errors):.1f} s over {len(errors)} "
            f"trials; median factor between predicted and actual "
            f"{np.exp(np.median(relative)):.2f}x.",
        ]
    for run in search_runs(study):
        lines.append(
            f"- search run at {run.started}: budget {run.budget_seconds:.0f} s, wall "
            f"{run.seconds:.1f} s, overrun {run.seconds - run.budget_seconds:+.1f} s, "
            f"{run.trials_run} trials, stopped by {run.stopped_by}."
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--study", default="bench")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--title", required=True)
    parser.add_argument("--command", default="", help="the command that ran the search")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/search_schedule.md"))
    args = parser.parse_args()
    location = resolve_location(args.study, args.workdir)
    study = optuna.load_study(study_name=args.study, storage=location.storage)
    lines = [
        f"## {args.title}",
        "",
        f"Machine: {platform.machine()}, 2 cores, CPU. Command: `{args.command}`.",
        "",
        *_analyse(study, args.folds),
        "",
    ]
    new = not args.out.exists()
    with args.out.open("a", encoding="utf-8") as out:
        if new:
            out.write("# How the search spent its budget\n\n")
            out.write("Written by `benchmarks/search_schedule.py` from kept benchmark studies.\n\n")
        out.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
