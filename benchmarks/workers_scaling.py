"""Trials per hour with 1, 2 and 4 workers on one machine, and storage overhead per trial.

Part 1 runs ``automoa search --workers N`` (fast space, small MoA-like data) for a fixed budget
and counts the finished trials. Part 2 measures what the storage itself costs per trial on
SQLite and on PostgreSQL: the controller's Optuna calls for one trial (ask, attribute writes,
fold reports, tell) with a trivial objective, so that model fitting is left out.

PostgreSQL: ``$AUTOMOA_BENCH_POSTGRES_URL``, else a throw-away local cluster when the server
binaries are installed (as in the tests), else that row is left out.

Usage: python benchmarks/workers_scaling.py [--budget 120] [--workers 1 2 4] [--rows 1000]
    [--trials 200] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import tempfile
import time
from pathlib import Path

import optuna

import automoa
from automoa.data import make_moa_like
from automoa.search.storage import make_storage
from automoa.threads import available_cores


def scaling(budget: float, workers: list[int], rows: int) -> list[str]:
    rows_out = []
    with tempfile.TemporaryDirectory() as tmp:
        data = make_moa_like(Path(tmp) / "data", rows=rows, targets=40, seed=0)
        for n in workers:
            outcome = automoa.search(
                data,
                budget=budget,
                space="fast",
                workdir=Path(tmp) / f"w{n}",
                workers=n,
                ensemble=False,
                oversubscribe=True,  # 4 workers on 2 cores is part of the measurement
            )
            trials = outcome.study.get_trials(deepcopy=False)
            finished = [t for t in trials if t.state.is_finished()]
            complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
            per_hour = len(finished) / outcome.seconds * 3600
            rows_out.append(
                f"| {n} | {max(1, available_cores() // n)} | {outcome.seconds:.0f} "
                f"| {len(finished)} | {len(complete)} | {per_hour:,.0f} |"
            )
            print(rows_out[-1], flush=True)
    return rows_out


def storage_overhead(url: str, n_trials: int, n_folds: int = 5) -> float:
    """Milliseconds of storage work per trial: the controller's calls with no model."""
    storage = make_storage(url)
    study = optuna.create_study(storage=storage, study_name="overhead", direction="minimize")
    started = time.perf_counter()
    for _ in range(n_trials):
        trial = study.ask()
        trial.suggest_float("C", 1e-3, 1.0, log=True)
        trial.set_user_attr("family", "linear")
        trial.set_user_attr("config", {"family": "linear", "model_params": {"C": 0.1}})
        trial.set_user_attr("seed", 0)
        storage.record_heartbeat(trial._trial_id)
        for fold in range(n_folds):
            trial.report(0.1, fold)
            trial.should_prune()
        for key in ("oof_artifact", "fold_scores", "fold_seconds", "fit_seconds", "seconds"):
            trial.set_user_attr(key, [0.1] * n_folds if key.startswith("fold") else 1.0)
        study.tell(trial, 0.1)
    return (time.perf_counter() - started) / n_trials * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    scaling_rows = scaling(args.budget, args.workers, args.rows)

    overhead_rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ms = storage_overhead(f"sqlite:///{tmp}/overhead.db", args.trials)
        overhead_rows.append(f"| SQLite (file in a temporary directory) | {ms:.1f} |")
        print(overhead_rows[-1], flush=True)
    url = os.environ.get("AUTOMOA_BENCH_POSTGRES_URL")
    if url is None:
        conftest = Path(__file__).parents[1] / "tests" / "conftest.py"
        spec = importlib.util.spec_from_file_location("pgserver", conftest)
        pg = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(pg)
        if pg.server_bindir() is not None:
            with pg.throwaway_server() as server:
                database = pg.create_database(server, "bench")
                ms = storage_overhead(database, args.trials)
                overhead_rows.append(
                    f"| PostgreSQL 127.0.0.1 (local throw-away cluster) | {ms:.1f} |"
                )
    else:
        ms = storage_overhead(url, args.trials)
        overhead_rows.append(f"| PostgreSQL ({url.split('@')[-1]}) | {ms:.1f} |")
    if len(overhead_rows) > 1:
        print(overhead_rows[-1], flush=True)

    lines = [
        "# Workers on one machine, and storage overhead per trial",
        "",
        f"Machine: {platform.machine()}, {available_cores()} cores; Python "
        f"{platform.python_version()}, optuna {optuna.__version__}. Command: `python "
        f"benchmarks/workers_scaling.py --budget {args.budget:g} --workers "
        f"{' '.join(map(str, args.workers))} --rows {args.rows} --trials {args.trials}`.",
        f"Data: make-moa-like, {args.rows} rows x 40 targets; `fast` space; each run a new "
        "study on SQLite (ensemble step off, so the budget is all search).",
        "",
        "| workers | threads each | seconds | finished trials | complete | trials per hour |",
        "|---|---|---|---|---|---|",
        *scaling_rows,
        "",
        f"Storage work per trial ({args.trials} trials, 5 fold reports, the attributes the "
        "controller writes, one heartbeat; no model):",
        "",
        "| storage | ms per trial |",
        "|---|---|",
        *overhead_rows,
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "workers_scaling.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
