"""Honest estimate against held-out score, per ensemble stage, for kept benchmark runs.

For each run directory kept by ``automoa benchmark --keep-workdirs`` (``RUNS/<dataset>-...``),
the benchmark task is rebuilt (the same training rows and held-out rows), and from the study's
candidates (their OOF and test predictions) every selection variant and every level-2 stage
(fitted on top of the kept selection) is built on all training rows and scored on the held-out
rows. The table puts each one's held-out log loss next to the honest estimate the ensemble step
recorded for it, with the final ensemble's and the best single trial's held-out scores. It shows
whether the honest estimate ranks the stages as the held-out rows do, and, between two budgets,
whether a held-out difference comes from the ensemble or from the candidates the search left.

Usage::

    .venv/bin/python benchmarks/ensemble_heldout.py --runs benchmarks/results/ensemble/runs \\
        --out benchmarks/results/ensemble/heldout.md
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import warnings
from pathlib import Path

import numpy as np
import optuna
from kept_studies import held_out_loss, load_kept  # run as a script: benchmarks/ is on the path

from automoa.ensemble.level2 import standard_stages
from automoa.ensemble.variants import standard_variants
from automoa.search.ensembling import candidate_group, stored_ensemble


def _table(run: Path, study_name: str, cache: Path) -> list[str]:
    loaded = load_kept(run, study_name, cache)
    task, data, candidates = loaded.task, loaded.task.train, loaded.candidates
    oofs, tests = loaded.oofs, loaded.tests
    report = stored_ensemble(loaded.study)
    kn = data.known_negative
    test_kn = data.test_known_negative

    def held_out(P: np.ndarray) -> float:
        return held_out_loss(task, P)

    stages = report.stages if report is not None else []
    honest = {s["stage"]: s.get("honest_score") for s in stages}
    kept = {s["stage"] for s in stages if s["kept"]}
    # The selection the pipeline kept before any floor: the best honest estimate.
    scored = [s for s in stages if s.get("kind") == "selection" and s.get("honest_score")]
    chosen = min(scored, key=lambda s: s["honest_score"])["stage"] if scored else "best_single"
    lines = [
        f"## {run.name}",
        "",
        f"- {len(candidates)} candidates; best single trial: CV {candidates[0].trial.value:.6f}, "
        f"held-out {held_out(tests[0]):.6f}.",
        "",
        "| stage | kind | honest estimate | held-out | kept |",
        "|---|---|---|---|---|",
    ]
    groups = [candidate_group(c.trial) for c in candidates]
    selections = {}
    for variant in standard_variants(groups):
        ensemble = variant.select(oofs, data.Y, None, kn)
        selections[variant.name] = ensemble
        pairs = zip(ensemble.members, ensemble.weights, strict=True)
        blend = sum(w * tests[i].astype(np.float64) for i, w in pairs)
        score = honest.get(variant.name)
        lines.append(
            f"| {variant.name} | selection | {'-' if score is None else f'{score:.6f}'} | "
            f"{held_out(blend):.6f} | {'yes' if variant.name in kept else 'no'} |"
        )
    members, weights = selections[chosen].members, selections[chosen].weights
    for stage in standard_stages():
        if stage.unusable(len(members), data.Y.shape[1]) is not None:
            continue
        model = stage.fit([oofs[i] for i in members], data.Y, weights, kn)
        score = honest.get(stage.name)
        lines.append(
            f"| {stage.name} (on {chosen}) | level2 | {'-' if score is None else f'{score:.6f}'} "
            f"| {held_out(model.predict([tests[i] for i in members], test_kn)):.6f} | "
            f"{'yes' if stage.name in kept else 'no'} |"
        )
    if report is not None:
        lines += [
            "",
            f"- final ensemble ({report.selection} selection, {report.method}): honest "
            f"{report.honest_score:.6f}"
            f"{' (the floor: the best trial alone)' if report.floor else ''}.",
        ]
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--study", default="bench")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    cache = Path(tempfile.gettempdir()) / "automoa-bench"
    lines = [
        "# Honest estimate and held-out score of every ensemble stage",
        "",
        f"Written by `benchmarks/ensemble_heldout.py` from the studies kept by the benchmark. "
        f"Machine: {platform.machine()}, CPU. Command: `.venv/bin/python "
        f"benchmarks/ensemble_heldout.py --runs {args.runs} --out {args.out}`.",
        "",
        "Selection variants are built on all training rows; level-2 stages on top of the kept "
        "selection. Held-out: mean column-wise log loss on the benchmark's held-out rows.",
        "",
    ]
    for run in sorted(p for p in args.runs.iterdir() if (p / "automoa.db").is_file()):
        lines += _table(run, args.study, cache)
        print(run.name, flush=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
