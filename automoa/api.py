"""The Python API behind the command line: load data, run a search, read a study."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import optuna

from automoa.data import Dataset, load
from automoa.exceptions import ConfigError, StudyError
from automoa.search.controller import SearchOutcome, TrialEvent, best_value, run_search
from automoa.search.deadline import parse_duration
from automoa.search.ensembling import EnsembleReport, build_ensemble, submission_path
from automoa.search.study import (
    StudyLocation,
    StudyMeta,
    load_existing,
    resolve_location,
    study_name_for,
    study_names,
)
from automoa.spaces import load_space

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


#: The ensemble step keeps 5% of the budget, at most 60 s (selection over 300 MoA-sized trials).
ENSEMBLE_RESERVE_FRACTION = 0.05
ENSEMBLE_RESERVE_MAX = 60.0


def load_data(
    data: str | Path | Dataset | None = None,
    *,
    features: str | Path | None = None,
    targets: str | Path | None = None,
    test_features: str | Path | None = None,
    id_col: str | None = None,
    group_col: str | None = None,
) -> Dataset:
    """A :class:`Dataset` from a directory, explicit files, ``bundled:NAME``, or as is."""
    if isinstance(data, Dataset):
        return data
    if data is None and (features is None or targets is None):
        raise ConfigError("--data: give a data directory, or both --features and --targets")
    return load(
        data,
        features=features,
        targets=targets,
        test_features=test_features,
        id_col=id_col,
        group_col=group_col,
    )


def search(
    data: str | Path | Dataset,
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
) -> SearchOutcome:
    """Search pipelines for ``data`` within ``budget``; resumes the study if it exists.

    The budget includes the ensemble step: the greedy ensemble of the study's trials is built
    at the end (unless ``ensemble=False`` or the search was interrupted), stored with the
    study, and, when the data has test features, its test predictions are written to
    ``WORKDIR/<study>/submission.csv``.

    Args:
        data: a data directory (MoA or generic layout), ``bundled:yeast``, or a Dataset.
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

    Returns:
        The outcome, with the study.
    """
    budget_seconds = parse_duration(budget)
    if max_trials is not None and max_trials < 1:
        raise ConfigError(f"--max-trials: expected at least 1, got {max_trials}")
    dataset = load_data(data)
    location = resolve_location(study or study_name_for(dataset.name), workdir, storage)
    # Time kept for the ensemble step, which runs inside the budget.
    reserve = (
        min(ENSEMBLE_RESERVE_MAX, ENSEMBLE_RESERVE_FRACTION * budget_seconds) if ensemble else 0
    )
    outcome = run_search(
        dataset,
        location,
        load_space(space),
        budget_seconds=budget_seconds - reserve,
        n_splits=folds,
        seed=seed,
        device=resolve_device(device),
        max_trials=max_trials,
        on_start=on_start,
        on_trial=on_trial,
    )
    if not ensemble or outcome.stopped_by == "interrupted" or best_value(outcome.study) is None:
        return outcome
    report = build_ensemble(
        outcome.study,
        location,
        dataset,
        submission_path=submission_path(location),
        seconds=max(reserve, budget_seconds - outcome.seconds),
    )
    return dataclasses.replace(outcome, ensemble=report)


def ensemble(
    data: str | Path | Dataset,
    *,
    study: str | None = None,
    workdir: str | Path | None = None,
    storage: str | None = None,
    max_iterations: int = 50,
) -> EnsembleReport:
    """Build (again) the greedy ensemble of a study and store it with the study.

    Args:
        data: the data the study was created on (checked by fingerprint).
        study: the study name; default derived from the data's name.
        workdir: run directory (default ``./automoa-work``).
        storage: Optuna storage URL; default a SQLite file in ``workdir``.
        max_iterations: greedy selection steps.

    Returns:
        The ensemble report; test predictions go to ``WORKDIR/<study>/submission.csv``.
    """
    if max_iterations < 1:
        raise ConfigError(f"--iterations: expected at least 1, got {max_iterations}")
    dataset = load_data(data)
    location = resolve_location(study or study_name_for(dataset.name), workdir, storage)
    opened = open_study(location.study_name, workdir=workdir, storage=storage)
    return build_ensemble(
        opened,
        location,
        dataset,
        max_iterations=max_iterations,
        submission_path=submission_path(location),
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
    location: StudyLocation = resolve_location(study, workdir, storage)
    return load_existing(location)
