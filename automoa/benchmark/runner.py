"""The benchmark protocol (after the AutoML Benchmark): every system on every task and seed.

For each dataset's tasks (official test split, or outer folds), each seed, each system (and
each budget, for systems that take one), the system runs on the training rows alone with
``cores`` threads and is scored on the held-out rows. One row per run goes to
``results.csv`` as soon as the run ends (a benchmark interrupted and started again skips the
rows already there); ``anytime.csv`` holds the incumbent's held-out loss over time and
``per_label.csv`` each label's held-out loss. A run that fails is recorded with its reason.

Where a task knows its held-out rows' true probabilities (generated ``moa-nonlinear-*`` data),
each row also holds the Bayes log loss (the true probabilities scored on the same rows with the
same metric: what an oracle of the generating process would score) and the system's gap ratio
``(loss - Bayes) / (prior - Bayes)``: 0 is the oracle, 1 the prior (the ``prior`` system's
loss on the task, computed whether or not that system is run).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from automoa.atomic import atomic_write
from automoa.benchmark.external import EXTERNAL_SYSTEMS, run_external
from automoa.benchmark.systems import (
    SystemRun,
    held_out_log_loss,
    run_automoa,
    run_logreg,
    run_logreg_path,
    run_mlp_starter,
    run_prior,
    run_xgboost,
)
from automoa.benchmark.tasks import BenchmarkTask, benchmark_tasks
from automoa.exceptions import ConfigError
from automoa.metrics import columnwise_log_loss

#: Systems without a budget: they run once per task and seed.
FIXED_SYSTEMS: dict[str, Callable[[BenchmarkTask, int, int], SystemRun]] = {
    "prior": run_prior,
    "logreg": run_logreg,
    "logreg-path": run_logreg_path,
    "xgboost": run_xgboost,
    "mlp-starter": run_mlp_starter,
}
BUDGETED_SYSTEMS = ("automoa", *EXTERNAL_SYSTEMS)
ALL_SYSTEMS = (*FIXED_SYSTEMS, *BUDGETED_SYSTEMS)
RESULT_COLUMNS = [
    "dataset",
    "fold",
    "system",
    "budget_seconds",
    "seed",
    "test_log_loss",
    "cv_log_loss",
    "wall_seconds",
    "overrun_seconds",
    "failure",
    "notes",
    "n_train",
    "n_test",
    "n_labels",
    "cores",
    # appended later: results.csv files written before them are upgraded on the next run
    "bayes_log_loss",
    "gap_ratio",
]
_KEY = ["dataset", "fold", "system", "budget_seconds", "seed"]
RESULTS, ANYTIME, PER_LABEL = "results.csv", "anytime.csv", "per_label.csv"


@dataclass
class BenchmarkConfig:
    """What to run.

    Attributes:
        datasets: names or directories (see :func:`~automoa.benchmark.tasks.benchmark_tasks`).
        systems: names from :data:`ALL_SYSTEMS`.
        budgets: wall-clock budgets in seconds, for the systems that take one.
        seeds: seeds; each system runs once per seed.
        cores: threads every system may use.
        out: the results directory.
        datasets_dir: where the shared datasets are.
        venvs_dir: where the other AutoML systems' virtual environments are made.
        outer_folds: K of the outer split (datasets without an official test split).
        folds_to_run: how many of those K folds are evaluated.
        space: automoa's search space.
        keep_workdirs: keep each run's work directory (studies, models) under ``out/runs``.
    """

    datasets: Sequence[str]
    systems: Sequence[str]
    budgets: Sequence[float]
    seeds: Sequence[int]
    cores: int
    out: Path
    datasets_dir: Path | None = None
    venvs_dir: Path | None = None
    outer_folds: int = 5
    folds_to_run: int = 1
    space: str = "default"
    keep_workdirs: bool = False
    cache_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "automoa-bench")

    def check(self) -> None:
        """Raise ConfigError on an unknown system or an impossible number."""
        unknown = [s for s in self.systems if s not in ALL_SYSTEMS]
        if unknown:
            known = ", ".join(ALL_SYSTEMS)
            raise ConfigError(f"--systems: unknown {', '.join(unknown)}; expected some of {known}")
        if not self.datasets or not self.systems or not self.seeds:
            raise ConfigError("--datasets, --systems and --seeds must each name at least one")
        if any(s in BUDGETED_SYSTEMS for s in self.systems) and not self.budgets:
            raise ConfigError("--budgets: give at least one budget for automoa / AutoML systems")
        if self.cores < 1 or self.outer_folds < 2 or self.folds_to_run < 1:
            raise ConfigError("--cores and --folds-to-run must be >= 1, --outer-folds >= 2")


def _runs(config: BenchmarkConfig) -> list[tuple[str, float | None]]:
    runs: list[tuple[str, float | None]] = []
    for system in config.systems:
        if system in FIXED_SYSTEMS:
            runs.append((system, None))
        else:
            runs.extend((system, float(b)) for b in config.budgets)
    return runs


def _done_keys(path: Path) -> set[tuple]:
    if not path.is_file():
        return set()
    frame = pd.read_csv(path, dtype={"fold": str})
    return {_key_of(row) for row in frame[_KEY].itertuples(index=False)}


def _key_of(row: Sequence) -> tuple:
    dataset, fold, system, budget, seed = row
    budget = None if budget is None or pd.isna(budget) else float(budget)
    return (str(dataset), str(fold), str(system), budget, int(seed))


def _upgrade_results(path: Path) -> None:
    """Give a ``results.csv`` written before the newest columns those columns (empty), so that
    appended rows line up with its header."""
    if not path.is_file():
        return
    with path.open() as handle:
        header = handle.readline().strip().split(",")
    if header == RESULT_COLUMNS:
        return
    frame = pd.read_csv(path, dtype={"fold": str, "failure": str, "notes": str})
    unknown = [c for c in frame.columns if c not in RESULT_COLUMNS]
    if unknown:
        raise ConfigError(f"--out: {path} has columns {unknown[:3]} this version does not write")
    frame = frame.reindex(columns=RESULT_COLUMNS)
    with atomic_write(path, "w") as handle:
        frame.to_csv(handle, index=False)


def _bayes_and_prior(task: BenchmarkTask) -> tuple[float, float]:
    """The task's Bayes log loss and the prior's held-out loss (NaN without true probabilities)."""
    if task.P_test is None:
        return float("nan"), float("nan")
    return held_out_log_loss(task, task.P_test), held_out_log_loss(
        task, run_prior(task, 0, 1).test_proba
    )


def gap_ratio(loss: float, bayes: float, prior: float) -> float:
    """``(loss - bayes) / (prior - bayes)``; NaN when undefined (no Bayes, prior not above it)."""
    if not (np.isfinite(loss) and np.isfinite(bayes) and np.isfinite(prior)) or prior <= bayes:
        return float("nan")
    return (loss - bayes) / (prior - bayes)


def _append(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    frame = pd.DataFrame(rows)
    frame.to_csv(path, mode="a", header=not path.is_file(), index=False)


def _run_one(
    config: BenchmarkConfig,
    task: BenchmarkTask,
    system: str,
    budget: float | None,
    seed: int,
    workdir: Path,
) -> SystemRun:
    if system in FIXED_SYSTEMS:
        return FIXED_SYSTEMS[system](task, seed, config.cores)
    if system == "automoa":
        return run_automoa(task, seed, config.cores, budget, workdir, config.space)
    venvs = config.venvs_dir or config.cache_dir / "venvs"
    return run_external(EXTERNAL_SYSTEMS[system], task, seed, config.cores, budget, workdir, venvs)


def run_benchmark(
    config: BenchmarkConfig, on_row: Callable[[dict], None] | None = None
) -> pd.DataFrame:
    """Run every (task, seed, system, budget) not yet in ``out/results.csv``.

    Args:
        config: what to run.
        on_row: called with each result row as it is written.

    Returns:
        All of ``results.csv`` (earlier rows included).
    """
    config.check()
    config.out.mkdir(parents=True, exist_ok=True)
    results_path = config.out / RESULTS
    _upgrade_results(results_path)
    done = _done_keys(results_path)
    for name in config.datasets:
        tasks = benchmark_tasks(
            name,
            datasets_dir=config.datasets_dir,
            cache_dir=config.cache_dir,
            outer_folds=config.outer_folds,
            folds_to_run=config.folds_to_run,
        )
        for task in tasks:
            references = _bayes_and_prior(task)
            for seed in config.seeds:
                for system, budget in _runs(config):
                    key = (task.dataset, task.fold, system, budget, int(seed))
                    if key in done:
                        continue
                    row = _evaluate(config, task, system, budget, int(seed), references)
                    done.add(key)
                    if on_row is not None:
                        on_row(row)
    return pd.read_csv(results_path, dtype={"fold": str})


_RUN_LABEL = re.compile(r"^(?P<dataset>.+)-(?P<fold>test|\d+of\d+)-.+-[^-]+-s\d+$")


def run_label(task: BenchmarkTask, system: str, budget: float | None, seed: int) -> str:
    """The name of a run's work directory under ``out/runs`` (kept with ``keep_workdirs``)."""
    return f"{task.dataset}-{task.fold.replace('/', 'of')}-{system}-{budget or 0:g}-s{seed}"


def kept_run_task(run: Path, *, datasets_dir: Path, cache_dir: Path) -> BenchmarkTask:
    """The benchmark task (training rows, held-out labels) of a kept run directory.

    Raises:
        ConfigError: the directory's name is not one :func:`run_label` gives, or names a fold
            its dataset does not have.
    """
    match = _RUN_LABEL.match(run.name)
    if match is None:
        raise ConfigError(f"{run}: not a kept benchmark run (<dataset>-<fold>-<system>-...)")
    fold = match["fold"].replace("of", "/")
    index, outer = (int(part) for part in fold.split("/")) if "/" in fold else (0, 5)
    tasks = benchmark_tasks(
        match["dataset"],
        datasets_dir=datasets_dir,
        cache_dir=cache_dir,
        outer_folds=outer,
        folds_to_run=index + 1,
    )
    for task in tasks:
        if task.fold == fold:
            return task
    raise ConfigError(f"{run}: dataset {match['dataset']!r} has no fold {fold!r}")


def _evaluate(
    config: BenchmarkConfig,
    task: BenchmarkTask,
    system: str,
    budget: float | None,
    seed: int,
    references: tuple[float, float] = (float("nan"), float("nan")),
) -> dict:
    runs_dir = config.out / "runs"
    label = run_label(task, system, budget, seed)
    workdir = runs_dir / label
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    row: dict = {
        "dataset": task.dataset,
        "fold": task.fold,
        "system": system,
        "budget_seconds": budget,
        "seed": seed,
        "test_log_loss": np.nan,
        "cv_log_loss": np.nan,
        "failure": "",
        "notes": "",
        "n_train": int(task.train.n_rows),
        "n_test": int(task.Y_test.shape[0]),
        "n_labels": int(task.Y_test.shape[1]),
        "cores": config.cores,
        "bayes_log_loss": references[0],
        "gap_ratio": np.nan,
    }
    started = time.perf_counter()
    try:
        run = _run_one(config, task, system, budget, seed, workdir)
    except Exception as exc:  # a system's failure is a result, not the benchmark's end
        run = None
        row["failure"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        (workdir / "traceback.txt").write_text(traceback.format_exc())
    wall = time.perf_counter() - started
    row["wall_seconds"] = wall
    row["overrun_seconds"] = max(0.0, wall - budget) if budget is not None else 0.0
    anytime_rows, label_rows = [], []
    if run is not None:
        row["test_log_loss"] = held_out_log_loss(task, run.test_proba)
        row["gap_ratio"] = gap_ratio(row["test_log_loss"], *references)
        row["cv_log_loss"] = np.nan if run.cv_log_loss is None else run.cv_log_loss
        row["notes"] = run.notes
        base = {k: row[k] for k in _KEY}
        for seconds, proba in [*run.anytime, (wall, run.test_proba)]:
            loss = held_out_log_loss(task, proba)
            anytime_rows.append({**base, "seconds": seconds, "test_log_loss": loss})
        positives = task.train.Y.sum(axis=0)
        losses = columnwise_log_loss(task.Y_test, run.test_proba)
        for j, target in enumerate(task.train.target_names):
            label_rows.append(
                {
                    **base,
                    "label": target,
                    "train_positives": int(positives[j]),
                    "test_positives": int(task.Y_test[:, j].sum()),
                    "test_log_loss": float(losses[j]),
                }
            )
    if not config.keep_workdirs and not row["failure"]:
        shutil.rmtree(workdir, ignore_errors=True)
    # Anytime and per-label rows first: a row in results.csv means the run is fully recorded.
    _append(config.out / ANYTIME, anytime_rows)
    _append(config.out / PER_LABEL, label_rows)
    _append(config.out / RESULTS, [{c: row[c] for c in RESULT_COLUMNS}])
    return row
