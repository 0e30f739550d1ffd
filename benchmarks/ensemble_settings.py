"""Ensemble pipeline settings side by side on kept benchmark studies: seconds, honest, held-out.

For each run directory kept by ``automoa benchmark --keep-workdirs`` (``RUNS/<dataset>-...``),
the study's candidates (OOF and test predictions) go through
:func:`automoa.ensemble.pipeline.run_pipeline` once per ``--config`` (a set of
:class:`PipelineOptions` values, no time limit, the threads the search would use), and the
table gives each run's time, the kept selection and level-2 method, the honest estimate and
the final ensemble's held-out log loss on the benchmark's held-out rows, next to the best
single trial's (the candidate with the best CV score, alone): issue 17 asks that no ensemble be
worse than its own best trial, honest or held-out.

Usage::

    .venv/bin/python benchmarks/ensemble_settings.py --runs DIR --out FILE \\
        --config 'shortlist=16,init_best=3,top_pool=300' 'shortlist=4,init_best=0'
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import optuna
from kept_studies import held_out_loss, load_kept  # run as a script: benchmarks/ is on the path

from automoa.ensemble.pipeline import PipelineOptions, run_pipeline
from automoa.metrics import mean_columnwise_log_loss
from automoa.search.ensembling import candidate_group
from automoa.search.study import read_meta_for
from automoa.threads import worker_threads


def parse_config(text: str) -> dict[str, int | bool | tuple[str, ...]]:
    """Pipeline options from ``key=value,...`` (e.g. ``shortlist=4,top_pool=0``); integer and
    0/1 options, and ``level2=0`` for no level-2 stage."""
    fields = {f.name: f.type for f in dataclasses.fields(PipelineOptions)}
    options: dict[str, int | bool | tuple[str, ...]] = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        if (key, value) == ("level2", "0"):
            options[key] = ()
            continue
        if fields.get(key) not in ("int", "bool") or not value.isdigit():
            raise SystemExit(f"--config: expected integer or 0/1 options, got {item!r}")
        options[key] = bool(int(value)) if fields[key] == "bool" else int(value)
    return options


def _rows(run: Path, study_name: str, configs: list[str], cache: Path) -> list[str]:
    loaded = load_kept(run, study_name, cache)
    task, data, candidates = loaded.task, loaded.task.train, loaded.candidates
    oofs, tests = loaded.oofs, loaded.tests
    fold_of = np.asarray(read_meta_for(loaded.study, data).folds)
    groups = [candidate_group(c.trial) for c in candidates]
    test_kn = data.test_known_negative
    # Candidates come best first: the first is the best single trial.
    best_cv, best_held_out = float(candidates[0].trial.value), held_out_loss(task, tests[0])
    rows = []
    for config in configs:
        options = PipelineOptions(n_jobs=worker_threads(), **parse_config(config))
        began = time.perf_counter()
        result = run_pipeline(
            oofs,
            data.Y,
            fold_of,
            scores=[c.trial.value for c in candidates],
            groups=groups,
            known_negative=data.known_negative,
            options=options,
        )
        seconds = time.perf_counter() - began
        members = [tests[i] for i in result.ensemble.members]
        held_out = mean_columnwise_log_loss(task.Y_test, result.combiner.combine(members, test_kn))
        rows.append(
            f"| {run.name} | {len(candidates)} | {config or '(defaults)'} | {seconds:.1f} | "
            f"{result.selection} + {result.method} | {len(result.ensemble.members)} | "
            f"{result.honest_score:.6f} | {held_out:.6f} | {best_cv:.6f} | {best_held_out:.6f} | "
            f"{_verdict(result.honest_score, held_out, best_cv, best_held_out)} |"
        )
        print(rows[-1], flush=True)
    return rows


def _verdict(honest: float, held_out: float, best_cv: float, best_held_out: float) -> str:
    """Whether the ensemble is at least as good as its best trial, honestly and held out."""
    worse = [
        name
        for name, ours, theirs in (
            ("honest", honest, best_cv),
            ("held-out", held_out, best_held_out),
        )
        if ours > theirs
    ]
    return "worse " + " and ".join(worse) if worse else "no worse"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--study", default="bench")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--config", nargs="+", default=[""], help="'key=value,...' option sets")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    cache = Path(tempfile.gettempdir()) / "automoa-bench"
    configs = " ".join(f"'{c}'" for c in args.config)
    lines = [
        "# Ensemble pipeline settings side by side",
        "",
        f"Written by `benchmarks/ensemble_settings.py` from the studies kept by the benchmark. "
        f"Machine: {platform.machine()}, CPU, {worker_threads()} threads. Command: "
        f"`.venv/bin/python benchmarks/ensemble_settings.py --runs {args.runs} --out {args.out} "
        f"--config {configs}`.",
        "",
        "Each setting runs the whole pipeline (no time limit) on the same candidates. Held-out: "
        "the final ensemble's mean column-wise log loss on the benchmark's held-out rows. Best "
        "trial: the candidate with the best CV score, alone (its CV score and held-out score); "
        "the last column compares the ensemble with it.",
        "",
        "| run | candidates | setting | seconds | kept | members | honest | held-out "
        "| best trial CV | best trial held-out | against the best trial |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in sorted(p for p in args.runs.iterdir() if (p / "automoa.db").is_file()):
        lines += _rows(run, args.study, args.config, cache)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
