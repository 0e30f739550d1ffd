"""The benchmark's presets and its entry point (``automoa benchmark``, called by the CLI)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from automoa.benchmark.report import BenchmarkReport, write_benchmark_report
from automoa.benchmark.runner import ALL_SYSTEMS, BenchmarkConfig, run_benchmark
from automoa.benchmark.tasks import default_datasets_dir, shared_available
from automoa.deadline import parse_duration
from automoa.exceptions import ConfigError, check_directory_path
from automoa.threads import available_cores

#: ``automoa benchmark --quick``: small real datasets, one short budget, no installs.
QUICK_BENCHMARK = {
    "datasets": ("emotions", "yeast"),
    "systems": ("prior", "logreg", "xgboost", "mlp-starter", "automoa"),
    "budgets": ("30s",),
    "seeds": (0,),
}
#: The full run whose results are committed in ``benchmarks/results/benchmark/``.
FULL_BENCHMARK = {
    "datasets": (
        "yeast",
        "scene",
        "emotions",
        "moa-like-2k",
        "moa-like-24k",
        "moa-nonlinear-24k",
    ),
    "systems": ALL_SYSTEMS,
    "budgets": ("1m", "5m", "15m"),
    "seeds": (0,),
}


def _integer(value: int | str, option: str) -> int:
    if isinstance(value, int) or str(value).lstrip("-").isdigit():
        return int(value)
    raise ConfigError(f"{option}: {value!r} is not an integer")


def benchmark(
    out: str | Path,
    *,
    datasets: Sequence[str] | None = None,
    systems: Sequence[str] | None = None,
    budgets: Sequence[str | float] | None = None,
    seeds: Sequence[int | str] | None = None,
    cores: int | None = None,
    quick: bool = False,
    datasets_dir: str | Path | None = None,
    venvs_dir: str | Path | None = None,
    outer_folds: int = 5,
    folds_to_run: int = 1,
    space: str = "default",
    keep_workdirs: bool = False,
    on_row: Callable[[dict], None] | None = None,
) -> BenchmarkReport:
    """Compare automoa with baselines and other AutoML systems; write results and a report.

    Every option left ``None`` takes its value from :data:`QUICK_BENCHMARK` (``quick``) or
    :data:`FULL_BENCHMARK`. Results accumulate in ``out/results.csv``: runs already there are
    skipped, so an interrupted benchmark continues where it stopped.

    Args:
        out: the results directory.
        datasets: names (``yeast``, ``scene``, ``emotions``, ``moa-like-2k``,
            ``moa-like-24k``, ``moa-nonlinear-2k``, ``moa-nonlinear-24k``) or data directories.
        systems: some of ``prior``, ``logreg``, ``xgboost``, ``mlp-starter``, ``automoa``,
            ``autogluon``, ``flaml``.
        budgets: wall-clock budgets for automoa and the AutoML systems (``1m``, ``90s``, ...).
        seeds: one run per seed.
        cores: threads every system may use (default: this process's cores).
        quick: the quick preset (emotions is left out where the shared datasets are not
            found; yeast is bundled).
        datasets_dir: where yeast, scene and emotions are (default ``$AUTOMOA_DATASETS`` or
            ``../shared/datasets``; yeast falls back to the bundled copy).
        venvs_dir: where AutoGluon's and FLAML's virtual environments are made.
        outer_folds: K of the outer split of datasets without an official test split.
        folds_to_run: how many outer folds are evaluated.
        space: automoa's search space.
        keep_workdirs: keep each run's work directory (studies, models) under ``out/runs``,
            e.g. for ``benchmarks/search_schedule.py``.
        on_row: called with each result row.

    Returns:
        The report's files.
    """
    preset = QUICK_BENCHMARK if quick else FULL_BENCHMARK
    out = Path(out)
    check_directory_path(out, "--out")
    shared_dir = Path(datasets_dir) if datasets_dir else default_datasets_dir()
    if datasets is None and quick:  # the quick check runs anywhere: yeast is bundled
        datasets = [name for name in preset["datasets"] if shared_available(name, shared_dir)]
    config = BenchmarkConfig(
        datasets=list(datasets or preset["datasets"]),
        systems=list(systems or preset["systems"]),
        budgets=[parse_duration(b) for b in (budgets or preset["budgets"])],
        seeds=[_integer(s, "--seeds") for s in (seeds if seeds is not None else preset["seeds"])],
        cores=available_cores() if cores is None else cores,  # 0 is refused, never "all"
        out=out,
        datasets_dir=shared_dir,
        venvs_dir=Path(venvs_dir) if venvs_dir else None,
        outer_folds=outer_folds,
        folds_to_run=folds_to_run,
        space=space,
        keep_workdirs=keep_workdirs,
    )
    run_benchmark(config, on_row=on_row)
    return write_benchmark_report(out)
