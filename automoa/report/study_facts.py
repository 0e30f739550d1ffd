"""Facts of a study for its report: parameters in short, per-family importances, per-label loss.

Pure reading and computing, no rendering: :mod:`automoa.report.study_report` turns these into
sections.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from automoa.data.dataset import Dataset
from automoa.exceptions import AutomoaError, StudyError
from automoa.metrics import columnwise_log_loss
from automoa.search.artifact_store import StudyArtifacts
from automoa.search.ensembling import EnsembleReport, stored_combiner, stored_ensemble
from automoa.search.record import TrialRecord
from automoa.search.study import StudyLocation

MAX_PARAMS_SHOWN = 6
#: Complete trials a family needs before its parameter importances mean anything.
MIN_IMPORTANCE_TRIALS = 5


@dataclass(frozen=True)
class LabelLosses:
    """Per-label log loss of one set of out-of-fold predictions.

    Attributes:
        names: label names (training order).
        positives: positives of each label in the training data.
        losses: binary log loss of each label (the metric's convention).
        source: whose predictions they are, in words.
    """

    names: tuple[str, ...]
    positives: np.ndarray
    losses: np.ndarray
    source: str


def _fmt_param(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:.3g}"
    return "none" if value is None else str(value)


def short_param_name(name: str) -> str:
    """A parameter's Optuna name without its namespace: ``model.linear.C`` -> ``C``.

    ``loss.name`` -> ``loss``, ``loss.focal.gamma`` -> ``focal.gamma`` (a model may have a
    ``gamma`` too), ``prep.pca.enabled`` -> ``pca``, ``prep.pca.n_components`` ->
    ``pca.n_components``.
    """
    parts = name.split(".")
    if parts[0] == "model" and len(parts) >= 3:
        return ".".join(parts[2:])
    if parts[0] == "loss" and len(parts) >= 2:
        return "loss" if parts[1:] == ["name"] else ".".join(parts[1:])
    if parts[0] == "prep" and len(parts) >= 3:
        return parts[1] if parts[2:] == ["enabled"] else ".".join(parts[1:])
    return name


def _param_group(name: str) -> int:
    return {"model": 0, "loss": 1, "prep": 2}.get(name.split(".", 1)[0], 3)


def key_params(params: dict[str, Any], limit: int = MAX_PARAMS_SHOWN) -> str:
    """A trial's parameters in a few words: model parameters first, 3 significant digits.

    Args:
        params: the trial's Optuna parameters.
        limit: parameters shown at most; the rest are counted.

    Returns:
        E.g. ``C=0.0639, max_iter=21``.
    """
    names = sorted((n for n in params if n != "model.family"), key=lambda n: (_param_group(n), n))
    shown = [f"{short_param_name(n)}={_fmt_param(params[n])}" for n in names[:limit]]
    if len(names) > limit:
        shown.append(f"+{len(names) - limit} more")
    return ", ".join(shown) or "(defaults)"


def family_of(trial: FrozenTrial) -> str:
    """The trial's model family (also for queued trials, from their enqueued parameters)."""
    params = trial.params or trial.system_attrs.get("fixed_params", {})
    return str(TrialRecord.read(trial).family or params.get("model.family") or "?")


def trial_seconds(trial: FrozenTrial) -> float | None:
    """The trial's recorded wall time, else the time between its start and its end."""
    seconds = TrialRecord.read(trial).seconds
    if isinstance(seconds, int | float) and math.isfinite(seconds):
        return float(seconds)
    if trial.datetime_start is not None and trial.datetime_complete is not None:
        return (trial.datetime_complete - trial.datetime_start).total_seconds()
    return None


def complete_trials(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
    return [
        t
        for t in trials
        if t.state == TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)
    ]


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Silence Optuna's "study created in memory" log lines and experimental warnings."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        optuna.logging.set_verbosity(level)


def _searched_params(trials: Sequence[FrozenTrial]) -> list[str]:
    """Parameters every trial has with the same distribution, and that took several values."""
    common = None
    for trial in trials:
        names = {n for n in trial.distributions if n != "model.family"}
        common = names if common is None else common & names
    params = []
    for name in sorted(common or ()):
        first = trials[0].distributions[name]
        if any(t.distributions[name] != first for t in trials):
            continue
        if len({repr(t.params[name]) for t in trials}) > 1:
            params.append(name)
    return params


def family_importances(
    trials: Sequence[FrozenTrial],
) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """fANOVA parameter importances of each model family, from its complete trials.

    Each family has its own parameters, so each is analysed alone: an in-memory study of the
    family's complete trials, with the parameters all of them share and that varied.

    Args:
        trials: the study's trials.

    Returns:
        ``(importances, notes)``: family -> short parameter name -> importance (summing to 1)
        for the families analysed, and family -> why not for the others.
    """
    by_family: dict[str, list[FrozenTrial]] = {}
    for trial in complete_trials(trials):
        by_family.setdefault(family_of(trial), []).append(trial)
    importances: dict[str, dict[str, float]] = {}
    notes: dict[str, str] = {}
    for family in sorted(by_family):
        group = by_family[family]
        if len(group) < MIN_IMPORTANCE_TRIALS:
            notes[family] = (
                f"not enough trials: {len(group)} complete, {MIN_IMPORTANCE_TRIALS} needed"
            )
            continue
        params = _searched_params(group)
        if len(params) < 2:
            varied = "no searched parameter" if not params else "a single searched parameter"
            notes[family] = f"not enough trials: {varied} varied over {len(group)} trials"
            continue
        try:
            with _quiet_optuna():
                sub = optuna.create_study(direction="minimize")
                sub.add_trials(group)
                scores = optuna.importance.get_param_importances(
                    sub,
                    evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0),
                    params=params,
                )
        except Exception as exc:  # one family's failure must not lose the whole report
            notes[family] = f"failed: {type(exc).__name__}: {exc}"
            continue
        importances[family] = {short_param_name(n): float(v) for n, v in scores.items()}
    return importances, notes


def _load_oof(artifacts: StudyArtifacts, trial: FrozenTrial) -> np.ndarray | None:
    artifact = TrialRecord.read(trial).oof_artifact
    if not artifact:
        return None
    path = artifacts.local_path(artifact)
    return None if path is None else np.load(path, mmap_mode="r", allow_pickle=False)


def read_ensemble(study: optuna.Study) -> EnsembleReport | None:
    try:
        return stored_ensemble(study)
    except TypeError:  # written by another automoa version: left out rather than failing
        return None


def label_losses(
    study: optuna.Study,
    location: StudyLocation,
    dataset: Dataset,
    *,
    trials: Sequence[FrozenTrial] | None = None,
) -> LabelLosses:
    """Per-label log loss of the ensemble's out-of-fold predictions, else the best trial's.

    The ensemble's members' out-of-fold predictions are combined as the stored ensemble
    combines them (fitted on all rows, so its stages are those of the hill-climbing score).

    Args:
        study: the study.
        location: where its artifacts are.
        dataset: the data it was created on.
        trials: the study's trials, if already read.

    Returns:
        The losses.

    Raises:
        StudyError: no complete trial with out-of-fold predictions in the artifact store.
    """
    trials = study.get_trials(deepcopy=False) if trials is None else trials
    by_number = {t.number: t for t in trials}
    positives = np.asarray(dataset.Y, dtype=np.int64).sum(axis=0)
    names = tuple(dataset.target_names)
    ensemble = read_ensemble(study)
    artifacts = location.open_artifacts()
    fallback = ""
    if ensemble is not None:
        members = [by_number.get(n) for n in ensemble.members]
        oofs = [None if t is None else _load_oof(artifacts, t) for t in members]
        if all(o is not None for o in oofs):
            try:
                combiner = stored_combiner(study, location)
                blend = combiner.combine(oofs, dataset.known_negative)
            except AutomoaError as exc:
                fallback = f" (the ensemble's could not be combined: {exc})"
            else:
                source = (
                    f"out-of-fold predictions of the ensemble ({combiner.describe()}; fitted "
                    "on all rows)"
                )
                return LabelLosses(names, positives, columnwise_log_loss(dataset.Y, blend), source)
        else:
            fallback = " (some ensemble members' out-of-fold predictions are missing)"
    for trial in sorted(complete_trials(trials), key=lambda t: (t.value, t.number)):
        oof = _load_oof(artifacts, trial)
        if oof is not None:
            source = (
                f"out-of-fold predictions of the best trial, {trial.number} ({family_of(trial)})"
                + (fallback or (" (no ensemble yet)" if ensemble is None else ""))
            )
            return LabelLosses(names, positives, columnwise_log_loss(dataset.Y, oof), source)
    raise StudyError(
        f"study {study.study_name!r} has no complete trial whose out-of-fold predictions are "
        f"in {location.artifacts}"
    )
