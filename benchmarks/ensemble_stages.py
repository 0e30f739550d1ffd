"""What the ensemble step chose, stage by stage, in kept benchmark runs.

For each run directory kept by ``automoa benchmark --keep-workdirs`` (``RUNS/<dataset>-...``),
reads the ensemble stored with the study and writes one Markdown table per run: the honest
estimate of every selection variant and every level-2 stage (the ones kept and the ones not,
and those skipped for time), clipping and the floor, the seed-averaging gain, and the best
single trial's CV score next to the ensemble's honest estimate.

Usage::

    .venv/bin/python benchmarks/ensemble_stages.py --runs benchmarks/results/ensemble/runs \\
        --out benchmarks/results/ensemble/stages.md
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import optuna

from automoa.search.ensembling import stored_ensemble
from automoa.search.study import resolve_location


def _table(run: Path, study_name: str) -> list[str]:
    location = resolve_location(study_name, run)
    study = optuna.load_study(study_name=study_name, storage=location.storage)
    report = stored_ensemble(study)
    if report is None:
        return [f"## {run.name}", "", "No ensemble stored (no complete trial).", ""]
    lines = [
        f"## {run.name}",
        "",
        f"- candidates: {report.n_candidates}; kept: {report.selection} selection, "
        f"{report.method}; {len(report.members)} members; honest {report.honest_score:.6f}, "
        f"best single trial CV {report.best_single:.6f}"
        f"{' (floor applied: the best trial alone)' if report.floor else ''}; "
        f"{report.seconds:.1f} s.",
    ]
    if report.seed_gain is not None:
        lines.append(
            f"- seed averaging: honest estimate {report.seed_gain:+.6f} better with the "
            f"seed-averaged members ({'kept' if report.seed_groups else 'not kept'})."
        )
    for note in report.seed_notes:
        lines.append(f"- seeds: {note}")
    lines += [
        "",
        "| stage | kind | honest estimate | kept | seconds | predicted s | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for stage in report.stages:
        score = stage.get("honest_score")
        predicted = stage.get("predicted_seconds")
        lines.append(
            f"| {stage['stage']} | {stage.get('kind', '')} | "
            f"{'skipped' if score is None else f'{score:.6f}'} | "
            f"{'yes' if stage['kept'] else 'no'} | {stage.get('seconds', 0.0):.1f} | "
            f"{'' if predicted is None else f'{predicted:.1f}'} | {stage.get('note', '')} |"
        )
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True, help="the kept runs' directory")
    parser.add_argument("--study", default="bench")
    parser.add_argument("--command", default="", help="the benchmark command that made them")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    lines = [
        "# The ensemble step, stage by stage",
        "",
        "Written by `benchmarks/ensemble_stages.py` from the studies kept by the benchmark.",
        f"Machine: {platform.machine()}, 2 cores, CPU. Command: `{args.command}`.",
        "",
    ]
    for run in sorted(p for p in args.runs.iterdir() if p.is_dir()):
        lines += _table(run, args.study)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
