"""The Python API behind the command line: load data, run a search, read a study."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from automoa.bundle import ExportReport, export_bundle
from automoa.bundle import load as load_bundle
from automoa.bundle.export import DEFAULT_TOLERANCE, ExportProgress
from automoa.data import Dataset, from_arrays, load
from automoa.deadline import parse_duration
from automoa.exceptions import ConfigError, StudyError, check_directory_path, check_seed
from automoa.folds import check_n_splits
from automoa.report.study_report import ReportFiles, write_report
from automoa.result import SearchResult
from automoa.search.callbacks import StudyCallback, check_callbacks
from automoa.search.controller import best_value, run_search
from automoa.search.ensembling import (
    EnsembleReport,
    auto_seeds,
    build_ensemble,
    submission_path,
    write_prior_submission,
)
from automoa.search.settings import SearchSettings, TrialEvent
from automoa.search.storage import check_storage_url
from automoa.search.study import (
    DATA_ATTR,
    SearchRun,
    StudyLocation,
    StudyMeta,
    check_study_name,
    load_existing,
    record_run,
    resolve_location,
    study_name_for,
    study_names,
)
from automoa.search.workers import run_workers
from automoa.spaces import is_shipped, load_space, without_missing_extras
from automoa.threads import check_workers

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when torch sees a GPU, else ``cpu``."""
    if device not in DEVICES:
        raise ConfigError(f"--device: expected one of {', '.join(DEVICES)}, got {device!r}")
    if device != "auto":
        return device
    try:
        import torch
    except ImportError:
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


#: Study attribute recording how the study's data was loaded (:attr:`Dataset.load_spec`).

#: The ensemble step keeps 5% of the budget, at most 120 s, for the ensemble pipeline (at MoA
#: scale: the selection variants on the diverse pool, the level-2 stages and clipping).
ENSEMBLE_RESERVE_FRACTION = 0.05
ENSEMBLE_RESERVE_MAX = 120.0
#: It never keeps less than 2 s, or a fifth of a budget shorter than 10 s: loading the
#: candidates and the cheapest stages take that long even on a small study.
ENSEMBLE_RESERVE_FLOOR = 2.0
ENSEMBLE_RESERVE_FLOOR_SHARE = 0.2
#: With extra seeds for the members, it keeps 10% more of the budget to train them.
SEED_RESERVE_FRACTION = 0.10


def ensemble_reserve(budget_seconds: float, extra_seeds: int) -> float:
    """Seconds of ``budget_seconds`` kept for the ensemble step (and its extra seeds)."""
    floor = min(ENSEMBLE_RESERVE_FLOOR, ENSEMBLE_RESERVE_FLOOR_SHARE * budget_seconds)
    reserve = min(ENSEMBLE_RESERVE_MAX, max(floor, ENSEMBLE_RESERVE_FRACTION * budget_seconds))
    if extra_seeds:
        reserve += SEED_RESERVE_FRACTION * budget_seconds
    return reserve


def load_data(
    data: str | Path | Dataset | None = None,
    *,
    features: str | Path | None = None,
    targets: str | Path | None = None,
    test_features: str | Path | None = None,
    id_col: str | None = None,
    group_col: str | None = None,
    data_option: str = "--data",
) -> Dataset:
    """A :class:`Dataset` from a directory, explicit files, ``bundled:NAME``, or as is.

    ``data_option`` names the data argument in the error when none is given.
    """
    if isinstance(data, Dataset):
        return data
    if data is None and (features is None or targets is None):
        raise ConfigError(f"{data_option}: give a data directory, or both --features and --targets")
    return load(
        data,
        features=features,
        targets=targets,
        test_features=test_features,
        id_col=id_col,
        group_col=group_col,
    )


#: What ``data`` may be: a directory, ``bundled:NAME``, a Dataset, or ``(X, Y)`` in memory.
DataArg = str | Path | Dataset | tuple[Any, Any]


def as_dataset(
    data: DataArg,
    *,
    groups: Any = None,
    aux_targets: Any = None,
    known_negative: Any = None,
    X_test: Any = None,
    name: str = "data",
) -> Dataset:
    """A :class:`Dataset` from any form of ``data`` the API takes.

    Args:
        data: a data directory (MoA or generic layout), ``bundled:NAME``, a Dataset, or
            ``(X, Y)``: features and 0/1 targets as DataFrames or arrays
            (:func:`automoa.data.from_arrays`).
        groups, aux_targets, known_negative, X_test: extras of the ``(X, Y)`` form (a
            directory or Dataset carries its own).
        name: the name of ``(X, Y)`` data (the default study name).

    Raises:
        ConfigError: an extra given with a directory or Dataset, or a tuple that is not (X, Y).
        DataError: the data is invalid.
    """
    extras = {
        "groups": groups,
        "aux_targets": aux_targets,
        "known_negative": known_negative,
        "X_test": X_test,
    }
    if isinstance(data, tuple):
        if len(data) != 2:
            raise ConfigError(
                f"data: expected a directory, a Dataset or (X, Y), got a {len(data)}-tuple"
            )
        return from_arrays(data[0], data[1], name=name, **extras)
    given = [key for key, value in extras.items() if value is not None]
    if given:
        raise ConfigError(
            f"{given[0]}: only with data given as (X, Y); a data directory or Dataset carries "
            "its own"
        )
    return load_data(data)


def search(
    data: DataArg,
    *,
    budget: str | float,
    space: str | Path = "default",
    storage: str | None = None,
    study: str | None = None,
    workdir: str | Path | None = None,
    folds: int = 5,
    seed: int = 0,
    device: str = "auto",
    max_trials: int | None = None,
    on_start: Callable[[StudyMeta, int], None] | None = None,
    on_trial: Callable[[TrialEvent], None] | None = None,
    ensemble: bool = True,
    keep_models: bool = False,
    workers: int = 1,
    artifacts: str | Path | None = None,
    groups: Any = None,
    aux_targets: Any = None,
    known_negative: Any = None,
    X_test: Any = None,
    ensemble_seeds: int | None = None,
    callbacks: Sequence[StudyCallback] | None = None,
    oversubscribe: bool = False,
    started: float | None = None,
) -> SearchResult:
    """Search pipelines for ``data`` within ``budget``; resumes the study if it exists.

    The budget includes the ensemble step: the greedy ensemble of the study's trials is built
    at the end (unless ``ensemble=False`` or the search was interrupted), stored with the
    study, and, when the data has test features, its test predictions are written to
    ``WORKDIR/<study>/submission.csv``.

    Args:
        data: a data directory (MoA or generic layout), ``bundled:yeast``, a Dataset, or
            ``(X, Y)``: features and 0/1 targets as DataFrames or arrays, rows matched by
            position (a DataFrame's column names are kept).
        budget: wall clock for this call (``90s``, ``10m``, ``6h``, ``1h30m`` or seconds).
        space: a shipped space name (``default``, ``fast``, ``moa``) or a YAML path.
        storage: Optuna storage URL; default a SQLite file in ``workdir``.
        study: study name; default derived from the data's name.
        workdir: run directory (default ``./automoa-work``).
        folds: number of CV folds (fixed when the study is created).
        seed: study seed.
        device: ``auto``, ``cpu`` or ``cuda``.
        max_trials: stop after this many new trials.
        on_start: progress hook, called once.
        on_trial: progress hook, called after each trial.
        ensemble: build the ensemble at the end.
        ensemble_seeds: extra seeds each selected member is re-trained with, when the time
            kept for them allows (10% of the budget more is kept then); ``None``: 1 from a
            30-minute budget, 2 from 2 hours, none below.
        keep_models: keep every complete trial's fitted fold models, so that export ships
            them instead of re-training (disk: the models of every trial).
        workers: worker processes on this machine sharing the study, each with its share of
            the cores (more machines: start the same search on each with a shared
            ``storage`` and ``artifacts``).
        artifacts: the artifact directory (default ``WORKDIR/artifacts``) or an object-store
            URL (``s3://BUCKET/PREFIX``, ``gs://BUCKET/PREFIX``); workers on several machines
            need one they all reach.
        groups: with ``(X, Y)``: a group label per row (e.g. MoA drug ids) for group-aware folds.
        aux_targets: with ``(X, Y)``: 0/1 auxiliary targets, trained on but not scored.
        known_negative: with ``(X, Y)``: rows whose labels are all 0 by construction.
        X_test: with ``(X, Y)``: test features; the ensemble's predictions for them are
            written to ``WORKDIR/<study>/submission.csv``.
        callbacks: Optuna callbacks, each called as ``callback(study, frozen_trial)`` after
            every trial (with several workers, in this process as their trials finish), e.g.
            optuna-integration's ``MLflowCallback`` or ``WeightsAndBiasesCallback``.
        oversubscribe: allow more ``workers`` than this machine's cores (each worker then gets
            one thread); refused otherwise, as is more workers than the free memory holds.
        started: the ``time.perf_counter()`` reading the budget counts from (default: this
            call). The command line passes its command's start, so that its imports and data
            loading count against ``--budget``.

    Returns:
        The result: leaderboard, best trial, ensemble, out-of-fold predictions, export.

    Raises:
        ConfigError: an invalid option (budget, folds, workers, ...).
        DataError: invalid data.
        StudyError: the study exists with other data or another space.
    """
    started_at = datetime.now(UTC)
    clock = time.perf_counter() if started is None else started
    budget_seconds = parse_duration(budget)
    check_seed(seed)
    if max_trials is not None and max_trials < 1:
        raise ConfigError(f"--max-trials: expected at least 1, got {max_trials}")
    dataset = as_dataset(
        data, groups=groups, aux_targets=aux_targets, known_negative=known_negative, X_test=X_test
    )
    name = study_name_for(dataset.name) if study is None else check_study_name(study)
    location = resolve_location(name, workdir, storage, artifacts)
    extra_seeds = auto_seeds(budget_seconds) if ensemble_seeds is None else ensemble_seeds
    if isinstance(extra_seeds, bool) or not isinstance(extra_seeds, int) or extra_seeds < 0:
        raise ConfigError(f"--ensemble-seeds: expected an integer >= 0, got {ensemble_seeds!r}")
    # Time kept for the ensemble step, which runs inside the budget.
    reserve = ensemble_reserve(budget_seconds, extra_seeds) if ensemble else 0.0
    check_workers(workers, oversubscribe)
    trial_callbacks = check_callbacks(callbacks)
    # Every option is checked before anything is created: a bad --space (or a family whose
    # library is missing), --folds, --device or --storage leaves no directory behind.
    loaded_space = without_missing_extras(load_space(space), explicit=not is_shipped(space))
    check_n_splits(folds, dataset.n_rows)
    resolved_device = resolve_device(device)
    check_storage_url(location.storage)
    location.open_artifacts()  # a bad --artifacts fails before the study is touched
    settings = SearchSettings(
        # What loading, checking and opening took before this point counts too.
        budget_seconds=max(0.0, budget_seconds - reserve - (time.perf_counter() - clock)),
        n_splits=folds,
        seed=seed,
        device=resolved_device,
        max_trials=max_trials,
        keep_models=keep_models,
        on_start=on_start,
        on_trial=on_trial,
        callbacks=trial_callbacks,
    )
    if workers == 1:
        outcome = run_search(dataset, location, loaded_space, settings)
    else:
        outcome = run_workers(dataset, location, loaded_space, settings, n_workers=workers)
    if dataset.load_spec is not None:
        # Where the data is, so that export can find it without --data.
        outcome.study.set_user_attr(DATA_ATTR, dataset.load_spec)
    if ensemble and outcome.stopped_by != "interrupted" and best_value(outcome.study) is not None:
        report = build_ensemble(
            outcome.study,
            location,
            dataset,
            submission_path=submission_path(location),
            seconds=max(reserve, budget_seconds - (time.perf_counter() - clock)),
            extra_seeds=extra_seeds,
        )
        outcome = dataclasses.replace(outcome, ensemble=report)
    elif outcome.stopped_by != "interrupted" and best_value(outcome.study) is None:
        # Anytime guarantee: even a budget too small for one trial leaves usable predictions.
        written = write_prior_submission(submission_path(location), dataset) if ensemble else None
        outcome = dataclasses.replace(outcome, prior_only=True, prior_submission=written)
    record_run(
        outcome.study,
        SearchRun(
            started=started_at.isoformat(timespec="seconds"),
            budget_seconds=budget_seconds,
            seconds=time.perf_counter() - clock,
            stopped_by=outcome.stopped_by,
            workers=workers,
            trials_run=outcome.trials_run,
        ),
    )
    return SearchResult(outcome, dataset, location)


def ensemble(
    data: str | Path | Dataset,
    *,
    study: str | None = None,
    workdir: str | Path | None = None,
    storage: str | None = None,
    max_iterations: int = 50,
    stacking: bool = True,
    clipping: bool = True,
    artifacts: str | Path | None = None,
    seeds: int = 0,
) -> EnsembleReport:
    """Build (again) the ensemble of a study and store it with the study.

    Args:
        data: the data the study was created on (checked by fingerprint).
        study: the study name; default derived from the data's name.
        workdir: run directory (default ``./automoa-work``).
        storage: Optuna storage URL; default a SQLite file in ``workdir``.
        max_iterations: greedy selection steps.
        stacking: try a level-2 stacker (kept only if its honest estimate is better).
        clipping: try clipping bounds (kept only if they improve the honest estimate).
        artifacts: the artifact directory, if not ``WORKDIR/artifacts``.
        seeds: first re-train each selected member with this many extra seeds (no time
            limit; siblings trained before are reused), then offer the seed-averaged members
            to the same honest selection.

    Returns:
        The ensemble report; test predictions go to ``WORKDIR/<study>/submission.csv``.
    """
    if max_iterations < 1:
        raise ConfigError(f"--iterations: expected at least 1, got {max_iterations}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 0:
        raise ConfigError(f"--seeds: expected an integer >= 0, got {seeds!r}")
    dataset = load_data(data)
    name = study_name_for(dataset.name) if study is None else check_study_name(study)
    location = resolve_location(name, workdir, storage, artifacts)
    opened = open_study(location.study_name, workdir=workdir, storage=storage)
    return build_ensemble(
        opened,
        location,
        dataset,
        max_iterations=max_iterations,
        submission_path=submission_path(location),
        stacking=stacking,
        clipping=clipping,
        extra_seeds=seeds,
    )


def open_study(
    study: str | None = None,
    *,
    workdir: str | Path | None = None,
    storage: str | None = None,
) -> optuna.Study:
    """Load an existing study for reading; without a name, the storage's only study.

    Raises:
        StudyError: no such storage or study, or several studies and no name.
    """
    if study is None:
        url = resolve_location("", workdir, storage).storage
        names = study_names(url)
        if len(names) != 1:
            listed = ", ".join(names) or "none"
            raise StudyError(f"--study: name one of the studies in {url}: {listed}")
        study = names[0]
    location: StudyLocation = resolve_location(check_study_name(study), workdir, storage)
    return load_existing(location)


def study_data(opened: optuna.Study, data: str | Path | Dataset | None = None) -> Dataset:
    """The study's data: ``data`` if given, else read again from where the search loaded it.

    Raises:
        ConfigError: no ``data`` and the study does not record where its data is.
        DataError: the recorded files cannot be read any more.
    """
    if data is not None:
        return load_data(data)
    spec = opened.user_attrs.get(DATA_ATTR)
    if spec is None:
        raise ConfigError(
            f"--data: study {opened.study_name!r} does not record where its data is; give "
            "the data it was created on"
        )
    return load(**spec)


def export(
    out: str | Path,
    *,
    study: str | None = None,
    workdir: str | Path | None = None,
    storage: str | None = None,
    data: str | Path | Dataset | None = None,
    device: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: ExportProgress | None = None,
    artifacts: str | Path | None = None,
) -> ExportReport:
    """Export a study's ensemble as a self-contained bundle directory.

    The ensemble is built first if the study has none stored. Members whose fold models the
    search did not keep are re-trained on the study's folds with their recorded seeds.

    Args:
        out: the new bundle directory (must not exist, or be empty).
        study: the study; default the storage's only study.
        workdir: run directory (default ``./automoa-work``).
        storage: Optuna storage URL; default a SQLite file in ``workdir``.
        data: the study's data; default re-read from where the search loaded it.
        device: ``auto``, ``cpu`` or ``cuda`` for re-training; default the device each trial
            ran on (parity with the recorded OOF is exact only on the same kind of device).
        tolerance: largest difference allowed between the shipped models' predictions and the
            recorded out-of-fold predictions.
        progress: called as (folds done, folds in all, what) while re-training.
        artifacts: the artifact directory, if not ``WORKDIR/artifacts``.

    Returns:
        What was written.
    """
    if not tolerance >= 0:
        raise ConfigError(f"--tolerance: expected a number >= 0, got {tolerance}")
    opened = open_study(study, workdir=workdir, storage=storage)
    location = resolve_location(opened.study_name, workdir, storage, artifacts)
    return export_bundle(
        opened,
        location,
        study_data(opened, data),
        out,
        device=None if device is None else resolve_device(device),
        tolerance=tolerance,
        progress=progress,
    )


def report(
    out: str | Path,
    *,
    study: str | None = None,
    workdir: str | Path | None = None,
    storage: str | None = None,
    artifacts: str | Path | None = None,
    data: str | Path | Dataset | None = None,
    overwrite: bool = False,
) -> ReportFiles:
    """Write an HTML + Markdown report of a study, with its plots, into the directory ``out``.

    Works on a study that is still being searched. The per-label sections need the study's
    data: without ``data`` it is read again from where the search loaded it, and when that
    fails (moved, deleted, not recorded, changed) the report says so instead of failing.

    Args:
        out: the report directory (created if missing; other files in it are left alone).
        study: the study; default the storage's only study.
        workdir: run directory (default ``./automoa-work``).
        storage: Optuna storage URL; default a SQLite file in ``workdir``.
        artifacts: the artifact directory or object-store URL, if not ``WORKDIR/artifacts``.
        data: the study's data; default re-read from where the search loaded it.
        overwrite: replace a report already in ``out``.

    Returns:
        The files written.

    Raises:
        ConfigError: ``out`` already holds a report and not ``overwrite``.
        StudyError: no such study, or ``data`` is not the data the study was created on.
    """
    from automoa.exceptions import DataError
    from automoa.search.study import read_meta

    opened = open_study(study, workdir=workdir, storage=storage)
    location = resolve_location(opened.study_name, workdir, storage, artifacts)
    dataset: Dataset | None = None
    note = None
    if data is not None:
        dataset = study_data(opened, data)  # data named explicitly: its errors are the user's
    else:
        try:
            dataset = study_data(opened)
        except (ConfigError, DataError) as exc:
            note = str(exc)
        if dataset is not None and dataset.fingerprint != read_meta(opened).fingerprint:
            note = (
                f"the data it records ({dataset.name}) has changed since the study was created "
                "(another fingerprint)"
            )
            dataset = None
    return write_report(
        opened, out, location=location, dataset=dataset, overwrite=overwrite, data_note=note
    )


def predict(
    model: str | Path, data: str | Path, out: str | Path, *, overwrite: bool = False
) -> pd.DataFrame:
    """Apply an exported bundle to a features file and write ids + targets as CSV.

    Raises:
        ConfigError: ``out`` exists and ``overwrite`` is not set.
        BundleError: the bundle is missing, modified or truncated.
        DataError: the features file is unreadable or its columns differ from training.
    """
    out = Path(out)
    check_directory_path(out.parent, "--out")
    if out.is_symlink():  # a link is refused, never replaced (nor followed)
        raise ConfigError(f"--out {out}: is a symbolic link; expected a file to write")
    if out.is_dir():
        raise ConfigError(f"--out {out}: is a directory; expected a file to write")
    if out.exists() and not overwrite:
        raise ConfigError(f"--out {out}: already exists; choose another file or pass --overwrite")
    # Checked early for a quick answer; the write itself is exclusive too (see predict_file).
    return load_bundle(model).predict_file(data, out, overwrite=overwrite)
