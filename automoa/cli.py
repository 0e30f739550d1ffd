"""The ``automoa`` command line: a thin table of commands over the Python API."""

from __future__ import annotations

import errno
import functools
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from typer.core import TyperGroup

try:  # typer >= 0.2x carries its own copy of click
    from typer._click import exceptions as click_exceptions
except ImportError:  # older typer: click itself
    from click import exceptions as click_exceptions

from automoa._version import __version__
from automoa.exceptions import AutomoaError

# The API (torch, Optuna, scikit-learn) is imported inside the commands, so that --help and
# --version answer at once.


class OneLineErrors(TyperGroup):
    """Usage errors (a mistyped option, a missing value) as one ``error:`` line, exit code 2."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click_exceptions.NoArgsIsHelpError:
            return super().main(*args, **kwargs)  # the help, as click shows it
        except click_exceptions.ClickException as exc:
            err.print(f"error: {exc.format_message()}", markup=False, soft_wrap=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            err.print("aborted")
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


# rich_markup_mode=None: help texts are plain text, so "[default: ...]" and install hints with
# "[xgboost]" show as written.
app = typer.Typer(
    cls=OneLineErrors,
    help="AutoML for multi-label tabular classification under heavy label imbalance.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,
)
data_app = typer.Typer(
    cls=OneLineErrors,
    help="Check and generate data.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(data_app, name="data")

# markup=False: whatever is printed (names from files, paths, error texts) is plain text, so a
# file can neither forge console lines nor lose its square brackets.
out = Console(highlight=False, soft_wrap=True, markup=False)
if not out.is_terminal:
    out.width = max(out.width, 120)  # logs and pipes: room for a whole leaderboard row
err = Console(stderr=True, highlight=False, markup=False)


def _show_version(value: bool) -> None:
    if value:
        out.print(f"automoa {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """AutoML for multi-label tabular classification under heavy label imbalance."""


F = TypeVar("F", bound=Callable[..., Any])

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
#: The study storage failed (read-only, full disk, locked database): not the user's input.
EXIT_STORAGE_FAILURE = 1
#: ``search`` ended with no complete trial: only the constant prior's predictions were written.
EXIT_PRIOR_ONLY = 3


def _load_data(data, features, targets, test_features, id_col, group_col, data_name="--data"):
    """The dataset named by the file options shared by the commands that read data."""
    from automoa import api

    return api.load_data(
        data,
        features=features,
        targets=targets,
        test_features=test_features,
        id_col=id_col,
        group_col=group_col,
        data_option=data_name,
    )


def os_error_message(exc: OSError) -> str:
    """One line naming the path and what was expected, for the usual file-system mistakes."""
    path = exc.filename or "?"
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        return f"{path}: a file is in the way; expected a directory there"
    if exc.errno == errno.EISDIR:
        return f"{exc.filename2 or path}: is a directory; expected a file"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{path}: permission denied"
    if exc.errno == errno.ENOSPC:
        return f"{path}: no space left on the device"
    return f"{path}: {exc.strerror or exc}"


def _is_storage_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is Optuna's failure to read or write the study storage (a read-only or
    full disk, a locked database). Optuna is imported only by commands that use a study."""
    optuna = sys.modules.get("optuna")
    return optuna is not None and isinstance(exc, optuna.exceptions.StorageInternalError)


def storage_failure_message(exc: BaseException) -> str:
    """One line for a storage failure: the database's own words, first line only."""
    cause = exc.__cause__ or exc.__context__ or exc
    orig = getattr(cause, "orig", None) or cause  # SQLAlchemy wraps the driver's error
    words = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return (
        f"the study storage cannot be written or read ({words}); finished trials are kept, "
        "run the same command again once it can"
    )


def user_errors(command: F) -> F:
    """Turn automoa errors into one ``error:`` line and exit code 2; show data warnings."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return command(*args, **kwargs)
            except AutomoaError as exc:
                err.print(f"error: {exc}", markup=False, soft_wrap=True)
                raise typer.Exit(EXIT_USER_ERROR) from None
            except OSError as exc:  # a path the user gave that cannot be used as given
                err.print(f"error: {os_error_message(exc)}", markup=False, soft_wrap=True)
                raise typer.Exit(EXIT_USER_ERROR) from None
            except KeyboardInterrupt:
                err.print("interrupted: finished trials are saved; run the same command to resume")
                raise typer.Exit(EXIT_INTERRUPTED) from None
            except Exception as exc:
                if not _is_storage_failure(exc):
                    raise
                err.print(f"error: {storage_failure_message(exc)}", markup=False, soft_wrap=True)
                raise typer.Exit(EXIT_STORAGE_FAILURE) from None
            finally:
                for warning in caught:
                    if issubclass(warning.category, UserWarning):
                        err.print(f"warning: {warning.message}", markup=False, soft_wrap=True)

    return wrapper  # type: ignore[return-value]


# Options shared by every command that works on a study.
WorkdirOpt = Annotated[
    Path | None,
    typer.Option(
        "--workdir", help="Run directory: SQLite study + artifacts [default: ./automoa-work]."
    ),
]
StorageOpt = Annotated[
    str | None,
    typer.Option("--storage", help="Optuna storage URL (overrides the workdir's SQLite)."),
]
ArtifactsOpt = Annotated[
    str | None,  # not a Path: it would turn s3://bucket into s3:/bucket
    typer.Option(
        "--artifacts",
        help="Where artifacts go, reachable by every worker: a directory, s3://BUCKET/PREFIX "
        "or gs://BUCKET/PREFIX [default: WORKDIR/artifacts].",
    ),
]
StudyOpt = Annotated[
    str | None, typer.Option("--study", help="Study name [default: from the data].")
]
FeaturesOpt = Annotated[
    Path | None, typer.Option("--features", help="Features file (CSV, .csv.gz, parquet).")
]
TargetsOpt = Annotated[Path | None, typer.Option("--targets", help="Targets file.")]
TestOpt = Annotated[Path | None, typer.Option("--test-features", help="Test features file.")]
IdColOpt = Annotated[
    str | None, typer.Option("--id-col", help="Id column [default: id or sig_id].")
]
GroupColOpt = Annotated[
    str | None, typer.Option("--group-col", help="Group column for group-aware folds.")
]


@app.command("search")
@user_errors
def search_command(
    data: Annotated[
        str | None,
        typer.Option("--data", help="Data directory (MoA or generic layout) or bundled:yeast."),
    ] = None,
    budget: Annotated[
        str, typer.Option("--budget", help="Wall clock: 90s, 10m, 6h, 1h30m.")
    ] = "10m",
    space: Annotated[
        str, typer.Option("--space", help="default, fast, moa, or a YAML file.")
    ] = "default",
    storage: StorageOpt = None,
    study: StudyOpt = None,
    workdir: WorkdirOpt = None,
    folds: Annotated[int, typer.Option("--folds", help="CV folds (fixed per study).")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Study seed.")] = 0,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    max_trials: Annotated[
        int | None, typer.Option("--max-trials", help="Stop after N new trials.")
    ] = None,
    features: FeaturesOpt = None,
    targets: TargetsOpt = None,
    test_features: TestOpt = None,
    id_col: IdColOpt = None,
    group_col: GroupColOpt = None,
    keep_models: Annotated[
        bool,
        typer.Option(
            "--keep-models",
            help="Keep every trial's fitted fold models so export need not re-train (disk).",
        ),
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", help="Worker processes sharing the study (cores split; at most the cores)."
        ),
    ] = 1,
    oversubscribe: Annotated[
        bool,
        typer.Option("--oversubscribe", help="Allow more --workers than cores, on purpose."),
    ] = False,
    artifacts: ArtifactsOpt = None,
    ensemble_seeds: Annotated[
        int | None,
        typer.Option(
            "--ensemble-seeds",
            help="Extra seeds per ensemble member (default: 1 from a 30m budget, 2 from 2h).",
        ),
    ] = None,
    mlflow: Annotated[
        str | None,
        typer.Option(
            "--mlflow",
            help="Log every trial to this MLflow tracking URI (needs the mlflow extra).",
        ),
    ] = None,
) -> None:
    """Search pipelines within the budget; running it again resumes the same study."""
    started = time.perf_counter()  # --budget counts from here: imports and loading included
    from automoa import api
    from automoa.deadline import parse_duration
    from automoa.report.console import SearchProgress, leaderboard_table
    from automoa.report.leaderboard import status
    from automoa.search.callbacks import mlflow_callback

    budget_seconds = parse_duration(budget)
    callbacks = [] if mlflow is None else [mlflow_callback(mlflow)]
    dataset = _load_data(data, features, targets, test_features, id_col, group_col)
    with SearchProgress(out, budget_seconds) as progress:
        result = api.search(
            dataset,
            budget=budget_seconds,
            space=space,
            storage=storage,
            study=study,
            workdir=workdir,
            folds=folds,
            seed=seed,
            device=device,
            max_trials=max_trials,
            on_start=progress.on_start,
            on_trial=progress.on_trial,
            keep_models=keep_models,
            workers=workers,
            artifacts=artifacts,
            ensemble_seeds=ensemble_seeds,
            callbacks=callbacks,
            oversubscribe=oversubscribe,
            started=started,
        )
    board = result.leaderboard()
    out.print(leaderboard_table(board, limit=10, title=f"study {result.study.study_name}: top 10"))
    summary = status(result.study)
    prior = summary["prior_cv_log_loss"]
    best = summary["best"]
    out.print(
        f"{result.trials_run} trials this run in {result.seconds:.0f}s "
        f"(stopped by {result.stopped_by}); {summary['n_trials']} in the study."
    )
    if best is None:
        out.print(f"no complete trial yet; prior CV log loss {prior:.5f}")
    else:
        gain = 100.0 * (prior - best["value"]) / prior
        out.print(
            f"best CV log loss {best['value']:.5f} (trial {best['number']}, {best['family']}) "
            f"vs constant prior {prior:.5f}: {gain:+.1f}% better"
        )
    cache_stats = result.outcome.cache_stats
    reused = sum(cache_stats.hits.values())
    if reused:
        out.print(
            f"preprocessing cache: {reused} fitted steps reused "
            f"(hit rate {cache_stats.hit_rate:.0%})"
        )
    if result.outcome.ensemble is not None:  # built by this run
        _print_ensemble(result.outcome.ensemble)
    if result.stopped_by == "interrupted":
        err.print("interrupted: every finished trial is saved; run the same command to resume.")
        raise typer.Exit(EXIT_INTERRUPTED)
    if result.prior_only:
        where = (
            f"the prior's predictions are in {result.prior_submission}"
            if result.prior_submission
            else "the data has no test features, so nothing was written"
        )
        err.print(
            f"no trial finished within the budget ({budget}): {where}; "
            f"give a larger budget (exit code {EXIT_PRIOR_ONLY})",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_PRIOR_ONLY)


def _print_ensemble(report) -> None:
    members = ", ".join(
        f"trial {n} ({family}) x{weight:.2f}"
        for n, family, weight in zip(report.members, report.families, report.weights, strict=True)
    )
    out.print(f"ensemble of {report.n_candidates} candidates: {members}")
    for stage in report.stages:
        score = stage["honest_score"]
        verdict = "kept" if stage["kept"] else "not kept"
        detail = f" ({stage['note']})" if stage["note"] else ""
        shown = "skipped" if score is None else f"honest {score:.5f}, {verdict}"
        out.print(f"  {stage['stage']}: {shown}{detail}")
    for group in report.seed_groups:
        out.print(
            f"  trial {group[0]} averaged over {len(group)} seeds (trials {group})", markup=False
        )
    if report.seed_gain is not None:
        out.print(
            f"  seed averaging: honest estimate {report.seed_gain:+.5f} better"
            if report.seed_gain >= 0
            else f"  seed averaging: not kept (honest estimate {-report.seed_gain:.5f} worse)"
        )
    for note in report.seed_notes:
        out.print(f"  seeds: {note}", markup=False)
    if report.floor:
        out.print(
            f"the best single trial alone is the ensemble: every combination's honest estimate "
            f"was worse than its CV log loss {report.best_single:.5f}"
        )
    out.print(
        f"ensemble ({report.selection} selection, {report.method}) CV log loss "
        f"{report.score:.5f} (fitted on all rows), {report.honest_score:.5f} honest (each stage "
        f"fitted on K-1 folds, scored on the held-out fold); best single trial "
        f"{report.best_single:.5f}"
    )
    if report.submission:
        out.print(f"test predictions written to {report.submission}")


@app.command("ensemble")
@user_errors
def ensemble_command(
    data: Annotated[
        str | None,
        typer.Option("--data", help="The data the study was created on."),
    ] = None,
    storage: StorageOpt = None,
    study: StudyOpt = None,
    workdir: WorkdirOpt = None,
    iterations: Annotated[int, typer.Option("--iterations", help="Greedy selection steps.")] = 50,
    stacking: Annotated[
        bool,
        typer.Option(
            "--stacking/--no-stacking",
            help="Try the level-2 stages (calibration, cross-label, stacking).",
        ),
    ] = True,
    clipping: Annotated[
        bool, typer.Option("--clipping/--no-clipping", help="Try clipping bounds.")
    ] = True,
    artifacts: ArtifactsOpt = None,
    features: FeaturesOpt = None,
    targets: TargetsOpt = None,
    test_features: TestOpt = None,
    id_col: IdColOpt = None,
    group_col: GroupColOpt = None,
    seeds: Annotated[
        int,
        typer.Option(
            "--seeds", help="First re-train each selected member with N extra seeds (no limit)."
        ),
    ] = 0,
) -> None:
    """Build the ensemble of a study's trials (also done at the end of every search).

    Selection variants, then level-2 stages and clipping, each kept only if it improves the
    honest (nested cross-validated) estimate; never worse than the best single trial.
    """
    from automoa import api

    dataset = _load_data(data, features, targets, test_features, id_col, group_col)
    report = api.ensemble(
        dataset,
        study=study,
        workdir=workdir,
        storage=storage,
        max_iterations=iterations,
        stacking=stacking,
        clipping=clipping,
        artifacts=artifacts,
        seeds=seeds,
    )
    _print_ensemble(report)


@app.command("export")
@user_errors
def export_command(
    out_dir: Annotated[Path, typer.Option("--out", help="New bundle directory.")],
    study: StudyOpt = None,
    storage: StorageOpt = None,
    workdir: WorkdirOpt = None,
    data: Annotated[
        str | None,
        typer.Option("--data", help="The study's data [default: where the search read it]."),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option("--device", help="auto, cpu or cuda [default: where each trial ran]."),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option("--tolerance", help="Largest OOF difference accepted when re-training."),
    ] = 1e-5,
    artifacts: ArtifactsOpt = None,
) -> None:
    """Export the study's ensemble as a self-contained, verified bundle directory."""
    from rich.progress import Progress

    from automoa import api

    with Progress(console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("exporting", total=None)

        def progress(done: int, total: int, what: str) -> None:
            bar.update(task, completed=done, total=total, description=what)

        report = api.export(
            out_dir,
            study=study,
            workdir=workdir,
            storage=storage,
            data=data,
            device=device,
            tolerance=tolerance,
            progress=progress,
            artifacts=artifacts,
        )
    for m in report.members:
        out.print(
            f"trial {m.trial} ({m.family}) x{m.weight:.2f}: {m.source}, out-of-fold parity "
            f"max |diff| {m.max_abs_diff:.2e} ({m.seconds:.1f}s)"
        )
    ens = report.ensemble
    out.print(
        f"bundle written to {report.path} in {report.seconds:.1f}s: {ens.method} ensemble, "
        f"CV log loss {ens.score:.5f}, honest {ens.honest_score:.5f}"
    )


@app.command("predict")
@user_errors
def predict_command(
    model: Annotated[Path, typer.Option("--model", help="Bundle directory from export.")],
    data: Annotated[Path, typer.Option("--data", help="Features file (CSV, .csv.gz, parquet).")],
    out_file: Annotated[Path, typer.Option("--out", help="Predictions CSV to write.")],
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace --out if it exists.")
    ] = False,
) -> None:
    """Predict every target for the rows of a features file with an exported bundle."""
    from automoa import api

    frame = api.predict(model, data, out_file, overwrite=overwrite)
    out.print(f"{len(frame)} rows x {frame.shape[1] - 1} targets written to {out_file}")


@app.command("status")
@user_errors
def status_command(
    study: StudyOpt = None,
    workdir: WorkdirOpt = None,
    storage: StorageOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="Rows of the leaderboard to show.")] = 20,
) -> None:
    """Print the leaderboard of a study (or, with --json, its full status)."""
    from automoa import api
    from automoa.report.console import leaderboard_table
    from automoa.report.leaderboard import leaderboard, status

    opened = api.open_study(study, workdir=workdir, storage=storage)
    summary = status(opened)
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return
    # Queued trials have not started: they are listed apart so that the counts add up.
    run_states = {s: n for s, n in summary["states"].items() if s != "WAITING"}
    states = ", ".join(f"{n} {s.lower()}" for s, n in sorted(run_states.items()))
    line = f"study {summary['study']} on {summary['data']}: {summary['n_trials']} trials"
    if states:
        line += f" ({states})"
    queued = summary["states"].get("WAITING", 0)
    if queued:
        line += f"; {queued} queued, not started"
    out.print(line)
    out.print(leaderboard_table(leaderboard(opened), limit=limit))
    best = summary["best"]
    line = f"prior CV log loss {summary['prior_cv_log_loss']:.5f}"
    if best is not None:
        line = (
            f"best CV log loss {best['value']:.5f} (trial {best['number']}, {best['family']}); "
            + line
        )
    out.print(line)


@app.command("report")
@user_errors
def report_command(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory for report.html, report.md and the plots.")
    ],
    study: StudyOpt = None,
    storage: StorageOpt = None,
    workdir: WorkdirOpt = None,
    artifacts: ArtifactsOpt = None,
    data: Annotated[
        str | None,
        typer.Option("--data", help="The study's data [default: where the search read it]."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a report already in --out.")
    ] = False,
) -> None:
    """Write a self-contained HTML report of a study (and Markdown + PNG plots)."""
    from automoa import api

    files = api.report(
        out_dir,
        study=study,
        workdir=workdir,
        storage=storage,
        artifacts=artifacts,
        data=data,
        overwrite=overwrite,
    )
    out.print(f"report written to {files.html}", markup=False)
    out.print(f"markdown: {files.markdown}", markup=False)
    for path in files.plots.values():
        out.print(f"plot: {path}", markup=False)


@data_app.command("check")
@user_errors
def data_check_command(
    path: Annotated[str | None, typer.Argument(help="Data directory or bundled:yeast.")] = None,
    features: FeaturesOpt = None,
    targets: TargetsOpt = None,
    test_features: TestOpt = None,
    id_col: IdColOpt = None,
    group_col: GroupColOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Validate a dataset and print its shape, label counts and groups (or the errors)."""
    from automoa.data import describe

    dataset = _load_data(path, features, targets, test_features, id_col, group_col, "PATH")
    summary = describe(dataset)
    if as_json:
        sys.stdout.write(json.dumps(summary.to_dict(), indent=2) + "\n")
        return
    for line in summary.to_lines():
        out.print(line, markup=False, soft_wrap=True)


@data_app.command("make-moa-like")
@user_errors
def make_moa_like_command(
    out_dir: Annotated[
        Path, typer.Argument(help="Directory to write (must not contain MoA files).")
    ],
    rows: Annotated[int, typer.Option("--rows", help="Training rows.")] = 2000,
    targets: Annotated[int, typer.Option("--targets", help="Scored targets.")] = 206,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            help="linear: each label a gene signature (logistic regression near-optimal); "
            "nonlinear: labels nonlinear in a latent drug state, true probabilities written to "
            "true_probabilities_{train,test}.csv.",
        ),
    ] = "linear",
) -> None:
    """Write a synthetic dataset in the Kaggle MoA layout with MoA's statistics."""
    from automoa.data.synthetic import MODES, make_moa_like
    from automoa.exceptions import ConfigError, check_seed

    check_seed(seed)
    if mode not in MODES:
        raise ConfigError(f"--mode: expected one of {', '.join(MODES)} (got {mode!r})")
    path = make_moa_like(out_dir, rows=rows, targets=targets, seed=seed, mode=mode)
    out.print(f"wrote MoA-like data ({mode}, {rows} rows, {targets} targets) to {path}")


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


@app.command("benchmark")
@user_errors
def benchmark_command(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Results directory (results accumulate there).")
    ] = Path("automoa-benchmark"),
    quick: Annotated[
        bool,
        typer.Option("--quick", help="emotions + yeast, 30 s budget, no other AutoML systems."),
    ] = False,
    datasets: Annotated[
        str | None,
        typer.Option(
            "--datasets",
            help="Comma-separated: yeast, scene, emotions, moa-like-2k, moa-like-24k, "
            "moa-nonlinear-2k, moa-nonlinear-24k or directories (default: all but "
            "moa-nonlinear-2k).",
        ),
    ] = None,
    systems: Annotated[
        str | None,
        typer.Option(
            "--systems",
            help="Comma-separated: prior, logreg, logreg-path, xgboost, mlp-starter, automoa, "
            "autogluon, flaml (default: all).",
        ),
    ] = None,
    budgets: Annotated[
        str | None,
        typer.Option("--budgets", help="Comma-separated budgets [default: 1m,5m,15m]."),
    ] = None,
    seeds: Annotated[
        str | None, typer.Option("--seeds", help="Comma-separated seeds [default: 0].")
    ] = None,
    cores: Annotated[
        int | None, typer.Option("--cores", help="Threads per system [default: all].")
    ] = None,
    datasets_dir: Annotated[
        Path | None,
        typer.Option("--datasets-dir", help="Where yeast, scene, emotions are."),
    ] = None,
    venvs_dir: Annotated[
        Path | None,
        typer.Option("--venvs", help="Where AutoGluon's and FLAML's environments are made."),
    ] = None,
    outer_folds: Annotated[
        int, typer.Option("--outer-folds", help="Outer folds (no official test split).")
    ] = 5,
    folds_to_run: Annotated[
        int, typer.Option("--folds-to-run", help="How many outer folds are evaluated.")
    ] = 1,
    space: Annotated[str, typer.Option("--space", help="automoa's search space.")] = "default",
    report_only: Annotated[
        bool, typer.Option("--report-only", help="Only rewrite the report from the results.")
    ] = False,
    keep_workdirs: Annotated[
        bool,
        typer.Option("--keep-workdirs", help="Keep each run's study and models under OUT/runs."),
    ] = False,
) -> None:
    """Compare automoa with baselines and AutoML systems on held-out rows; write a report."""
    from automoa.benchmark.presets import benchmark
    from automoa.benchmark.report import write_benchmark_report

    def show(row: dict) -> None:
        what = f"{row['dataset']} [{row['fold']}] {row['system']}"
        if row["budget_seconds"] is not None:
            what += f" {row['budget_seconds']:g}s"
        result = row["failure"] or f"held-out log loss {row['test_log_loss']:.5f}"
        line = f"{what} seed {row['seed']}: {result} ({row['wall_seconds']:.0f} s)"
        out.print(line, markup=False)

    if report_only:
        report = write_benchmark_report(out_dir)
    else:
        report = benchmark(
            out_dir,
            datasets=_names(datasets),
            systems=_names(systems),
            budgets=_names(budgets),
            seeds=_names(seeds),
            cores=cores,
            quick=quick,
            datasets_dir=datasets_dir,
            venvs_dir=venvs_dir,
            outer_folds=outer_folds,
            folds_to_run=folds_to_run,
            space=space,
            keep_workdirs=keep_workdirs,
            on_row=show,
        )
    out.print(f"report: {report.html} and {report.markdown}")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
