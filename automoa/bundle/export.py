"""``automoa export``: a study's ensemble as a self-contained, verified directory.

Layout::

    manifest.json              what the bundle holds, sha256 of every other file
    members/trial-00012.npz    fold models of each member (see automoa.fitted.archive)
    stacker.npz                the level-2 model, when the ensemble stacks

Each member's fold models are the ones trained during the search when the search kept them
(``--keep-models``); otherwise the member is re-trained on the study's folds with its recorded
seed. Either way the shipped models are read back and applied to their validation rows, which
must reproduce the trial's recorded out-of-fold predictions (parity, within ``tolerance``).
The bundle is assembled in a temporary sibling directory and renamed into place at the end, so
an interrupted export leaves nothing half-written, and an existing directory is never touched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from automoa._version import __version__
from automoa.bundle.manifest import FORMAT, FORMAT_VERSION, file_entries, write_manifest
from automoa.config import PipelineConfig
from automoa.data.dataset import Dataset
from automoa.exceptions import BundleError, ConfigError, check_directory_path
from automoa.fitted import FoldModel, load_fold_models, save_fold_models
from automoa.folds import fold_indices
from automoa.metrics import METRIC_CONVENTION
from automoa.npz import save_npz
from automoa.search.artifact_store import StudyArtifacts
from automoa.search.ensembling import (
    EnsembleReport,
    build_ensemble,
    stored_combiner,
    stored_ensemble,
    submission_path,
)
from automoa.search.objective import evaluate
from automoa.search.record import TrialRecord
from automoa.search.study import StudyLocation, read_meta_for

#: Called as (folds done, folds in all, what is being done) while members are re-trained.
ExportProgress = Callable[[int, int, str], None]
#: Largest difference allowed between shipped fold models and the recorded OOF.
DEFAULT_TOLERANCE = 1e-5
STACKER_FILE = "stacker.npz"
_LIBRARIES = (
    "numpy",
    "scikit-learn",
    "optuna",
    "torch",
    "pytorch-tabnet",
    "xgboost",
    "xgboost-cpu",
    "imbalanced-learn",
    "pandas",
)


@dataclass
class ExportedMember:
    """One member as shipped.

    Attributes:
        trial: the trial number.
        family: its model family.
        weight: its weight in the ensemble.
        source: ``"kept"`` (models from the search) or ``"retrained"``.
        max_abs_diff: largest difference between the shipped models' predictions on their
            validation rows and the trial's recorded out-of-fold predictions.
        seconds: time spent on it.
    """

    trial: int
    family: str
    weight: float
    source: str
    max_abs_diff: float
    seconds: float


@dataclass
class ExportReport:
    """What :func:`export_bundle` wrote."""

    path: Path
    ensemble: EnsembleReport
    members: list[ExportedMember] = field(default_factory=list)
    seconds: float = 0.0


def library_versions() -> dict[str, str]:
    """Installed versions of automoa's libraries (those not installed are left out)."""
    versions = {"automoa": __version__}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(
            f"--out {out}: already exists and is not an empty directory; choose a new one "
            "(nothing was written)"
        )


def _default_permissions(root: Path) -> None:
    """Temporary files are private (0600); give the bundle the user's usual permissions."""
    umask = os.umask(0)
    os.umask(umask)
    root.chmod(0o777 & ~umask)
    for path in root.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def parity(
    fold_models: list[FoldModel], dataset: Dataset, fold_of: np.ndarray, recorded: np.ndarray
) -> float:
    """Largest |prediction - recorded OOF| of each fold model on its validation rows."""
    if len(fold_models) != int(fold_of.max()) + 1:
        raise BundleError(
            f"expected {int(fold_of.max()) + 1} fold models (the study's folds), got "
            f"{len(fold_models)}"
        )
    trainable = dataset.trainable_mask
    worst = 0.0
    for fold, fitted in enumerate(fold_models):
        _, valid_idx = fold_indices(fold_of, fold)
        scored = valid_idx[trainable[valid_idx]]
        if scored.size == 0:
            continue
        predicted = fitted.predict_proba(dataset.X[scored])
        worst = max(worst, float(np.max(np.abs(predicted - recorded[scored]))))
    return worst


def export_bundle(
    study: optuna.Study,
    location: StudyLocation,
    dataset: Dataset,
    out: str | Path,
    *,
    device: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: ExportProgress | None = None,
) -> ExportReport:
    """Write the study's ensemble as a bundle in the new directory ``out``.

    The ensemble is built (and stored with the study) first if the study has none.

    Args:
        study: the study.
        location: where its artifacts are.
        dataset: the data the study was created on (checked by fingerprint).
        out: the bundle directory; must not exist or be empty.
        device: where members are re-trained; ``None``: the device each trial ran on.
        tolerance: the largest parity difference accepted.
        progress: called after each re-trained fold.

    Returns:
        The report.

    Raises:
        StudyError: other data, or no complete trial to build an ensemble from.
        ConfigError: ``out`` exists and is not empty.
        BundleError: a member's shipped models do not reproduce its recorded OOF.
    """
    started = time.perf_counter()
    meta = read_meta_for(study, dataset)
    ensemble = stored_ensemble(study)
    if ensemble is None:
        build_ensemble(study, location, dataset, submission_path=submission_path(location))
        ensemble = stored_ensemble(study)
    combiner = stored_combiner(study, location)
    out = Path(out)
    check_directory_path(out.parent, "--out")
    _check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    try:
        report = ExportReport(path=out, ensemble=ensemble)
        (staging / "members").mkdir()
        members = _export_members(
            study, location, dataset, meta.folds, ensemble, staging, device, tolerance, progress
        )
        report.members = [m for m, _ in members]
        files = [name for _, name in members]
        if combiner.stacker is not None:
            save_npz(staging / STACKER_FILE, combiner.stacker.to_arrays())
            files.append(STACKER_FILE)
        manifest = _manifest(study, dataset, ensemble, combiner, members, meta.metric)
        manifest["files"] = file_entries(staging, files)
        write_manifest(staging, manifest)
        _default_permissions(staging)
        _check_out(out)  # still free: nothing of the user's is replaced
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report.seconds = time.perf_counter() - started
    return report


def _kept_models(trial: optuna.trial.FrozenTrial, artifacts: StudyArtifacts) -> Path | None:
    """The fold-model archive the search kept for ``trial``, if any (as a local file)."""
    artifact = TrialRecord.read(trial).models_artifact
    return artifacts.local_path(artifact) if artifact else None


def _export_members(
    study: optuna.Study,
    location: StudyLocation,
    dataset: Dataset,
    fold_of: np.ndarray,
    ensemble: EnsembleReport,
    staging: Path,
    device: str | None,
    tolerance: float,
    progress: ExportProgress | None,
) -> list[tuple[ExportedMember, str]]:
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    artifacts = location.open_artifacts()
    n_folds = int(fold_of.max()) + 1
    to_train = [n for n in ensemble.members if _kept_models(trials[n], artifacts) is None]
    total, done = n_folds * len(to_train), 0

    def fold_done(what: str) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total, what)

    exported = []
    for number, weight in zip(ensemble.members, ensemble.weights, strict=True):
        name = f"members/trial-{number:05d}.npz"
        member = export_member(
            trials[number],
            location,
            dataset,
            fold_of,
            staging / name,
            device=device,
            tolerance=tolerance,
            on_fold=fold_done,
        )
        member.weight = float(weight)
        exported.append((member, name))
    return exported


def export_member(
    trial: optuna.trial.FrozenTrial,
    location: StudyLocation,
    dataset: Dataset,
    fold_of: np.ndarray,
    path: Path,
    *,
    device: str | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    on_fold: Callable[[str], None] | None = None,
) -> ExportedMember:
    """Write one complete trial's fold models to ``path`` and check their parity.

    The models kept by the search are copied; otherwise the pipeline is re-trained on the
    study's folds with the trial's seed. The written archive is read back and applied to each
    fold's validation rows, which must reproduce the trial's recorded OOF within ``tolerance``.

    Args:
        trial: a complete trial of the study.
        location: where the study's artifacts are.
        dataset: the study's data.
        fold_of: the study's folds.
        path: the archive to write.
        device: where to re-train; ``None``: the device the trial ran on (parity is exact only
            on the same kind of device).
        tolerance: the largest parity difference accepted.
        on_fold: called with a description after each re-trained fold.

    Returns:
        The member (weight 0; the caller sets it).

    Raises:
        BundleError: the shipped models do not reproduce the recorded OOF.
    """
    started = time.perf_counter()
    artifacts = location.open_artifacts()
    record = TrialRecord.read(trial)
    config = PipelineConfig.from_dict(record.config)
    seed = int(record.seed or 0)
    kept = _kept_models(trial, artifacts)
    if kept is not None:
        shutil.copyfile(kept, path)
        source = "kept"
    else:
        what = f"re-training trial {trial.number} ({config.family})"

        def report(_fold: int, _loss: float) -> bool:
            if on_fold is not None:
                on_fold(what)
            return False  # never stop

        result = evaluate(
            config,
            dataset,
            fold_of,
            seed=seed,
            device=device or record.device or "cpu",
            keep_models=True,
            reporter=report,
        )
        info = {"trial": trial.number, "config": config.to_dict(), "seed": seed}
        save_fold_models(path, result.fold_models, info)
        source = "retrained"
    _, fold_models = load_fold_models(path)  # check what is shipped, as it will be loaded
    recorded_path = artifacts.local_path(record.oof_artifact)
    if recorded_path is None:
        raise BundleError(
            f"trial {trial.number}: its out-of-fold artifact is missing from {artifacts.spec}"
        )
    recorded = np.load(recorded_path, mmap_mode="r")
    diff = parity(fold_models, dataset, fold_of, recorded)
    if not diff <= tolerance:
        raise BundleError(
            f"trial {trial.number} ({config.family}): the {source} fold models reproduce its "
            f"recorded out-of-fold predictions only within {diff:.3g} (tolerance "
            f"{tolerance:g}); was the search run with other library versions or on another "
            "device? (see --tolerance)"
        )
    return ExportedMember(
        trial=trial.number,
        family=config.family,
        weight=0.0,
        source=source,
        max_abs_diff=diff,
        seconds=time.perf_counter() - started,
    )


def _manifest(
    study: optuna.Study,
    dataset: Dataset,
    ensemble: EnsembleReport,
    combiner: Any,
    members: list[tuple[ExportedMember, str]],
    metric: str,
) -> dict[str, Any]:
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "automoa_version": __version__,
        "versions": library_versions(),
        "study": study.study_name,
        "data": {
            "name": dataset.name,
            "fingerprint": dataset.fingerprint,
            "n_rows": dataset.n_rows,
        },
        "input": {
            "id_column": dataset.id_name,
            "columns": list(dataset.raw_columns),
            "moa_encoded": dataset.moa_encoded,
            "group_column": dataset.group_name,
            "positional": dataset.positional_columns,
        },
        "feature_names": list(dataset.feature_names),
        "target_names": list(dataset.target_names),
        "metric": metric or METRIC_CONVENTION,
        "members": [
            {
                "trial": m.trial,
                "file": name,
                "family": m.family,
                "weight": m.weight,
                "config": TrialRecord.read(trials[m.trial]).config,
                "seed": int(TrialRecord.read(trials[m.trial]).seed or 0),
                "cv_log_loss": trials[m.trial].value,
                "source": m.source,
                "oof_max_abs_diff": m.max_abs_diff,
            }
            for m, name in members
        ],
        "combiner": {
            "method": ensemble.method,
            "weights": list(combiner.weights),
            "stacker_file": STACKER_FILE if combiner.stacker is not None else None,
            "clip": None if combiner.clip is None else combiner.clip.to_dict(),
            "zero_known_negative": dataset.moa_encoded,
        },
        "scores": {
            "cv_log_loss": ensemble.score,
            "honest_cv_log_loss": ensemble.honest_score,
            "best_single_cv_log_loss": ensemble.best_single,
            "stages": ensemble.stages,
        },
    }
