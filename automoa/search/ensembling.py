"""The ensemble step of a study: greedy selection over the trials' out-of-fold predictions.

Candidates are the complete trials; their OOF matrices are memory-mapped from the artifact
store (never all loaded at once). :func:`automoa.ensemble.select` picks members and weights on
all rows (the hill-climbing score) and :func:`automoa.ensemble.honest_score` repeats the
selection on K-1 folds and scores the held-out fold, which is the estimate to trust.

Optional later stages, each kept only when it improves that honest estimate:

- **calibration** or **stacking** (:mod:`automoa.ensemble.stacking`), alternatives that replace the
  weighted average: per-label logistic regression on the logit of the blend (Platt scaling,
  two parameters per label) or on the logits of the selected members. Their estimates are
  nested (for each fold, the members selected without it and a regression fitted without it);
  the better one is kept if it beats greedy selection;
- **clipping** (:mod:`automoa.ensemble.clipping`): bounds on the probabilities, each fold's
  chosen on the other folds' held-out predictions.

The result is stored with the study (user attribute ``automoa_ensemble``; the stacker as a
study artifact), and when the data has test features the combined test predictions are written
in the ``sample_submission.csv`` format. Known-negative rows are always predicted 0: the data
declares them all-negative, so no estimate is needed to keep that.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.artifacts import upload_artifact

from automoa.atomic import atomic_write
from automoa.data.dataset import Dataset
from automoa.ensemble import SCREEN_STRIDE, honest_evaluation, select
from automoa.ensemble.clipping import Clip, honest_clip
from automoa.ensemble.combiner import Combiner
from automoa.ensemble.stacking import Stacker, fit_stacker, honest_stacking
from automoa.exceptions import StudyError
from automoa.metrics import mean_columnwise_log_loss
from automoa.models.registry import get_family
from automoa.search.artifact_store import StudyArtifacts
from automoa.search.study import PRIOR_CONFIG, StudyLocation, read_meta_for

ENSEMBLE_ATTR = "automoa_ensemble"
#: Candidates scored exactly per greedy iteration after screening (see ``select``).
DEFAULT_SHORTLIST = 16
#: Candidates considered at most: the best trials by CV score.
MAX_CANDIDATES = 300
#: Seconds to score one candidate blend per (row x label) cell, measured with 1 thread on a
#: 2-core machine (5.5 ms for 24000 x 206); used to fit the step into a time budget.
SECONDS_PER_CELL = 1.2e-9
#: The honest estimate costs about this many selections per fold (rows of other folds are
#: skipped, not copied).
HONEST_COST_PER_FOLD = 1.25
#: Share of the ensemble step's time given to greedy selection and its honest estimate; the
#: rest is for calibration, stacking and clipping.
SELECTION_SHARE = 0.6
#: Seconds per (row x label) cell of one calibration or stacking fit on this 2-core machine:
#: per member read and blended, plus per regression feature (benchmarks/ensemble_selection.py:
#: 17 members at 24k x 206, nested over 5 folds plus the final fit: calibration 10 s, stacking
#: 23 s). A level-2 stage is tried only when its estimate fits the time left.
LEVEL2_SECONDS_PER_MEMBER_CELL = 2e-8
LEVEL2_SECONDS_PER_FEATURE_CELL = 3e-8
STAGE_NOTES = {
    "calibration": "per-label logistic regression on the blend's logit",
    "stacking": "per-label logistic regression on the members' logits",
}


def affordable_candidates(
    seconds: float,
    n_rows: int,
    n_labels: int,
    n_folds: int,
    max_iterations: int,
    shortlist: int = DEFAULT_SHORTLIST,
) -> int:
    """How many candidates selection plus its honest estimate can handle within ``seconds``.

    With ``m`` candidates above the shortlist, one iteration scores about ``m / SCREEN_STRIDE +
    shortlist`` full candidate blends (screening, then the shortlist exactly).
    """
    selections = 1.0 + HONEST_COST_PER_FOLD * n_folds
    per_blend = max_iterations * n_rows * n_labels * SECONDS_PER_CELL * selections
    blends = seconds / per_blend  # full candidate evaluations per iteration we can afford
    if shortlist == 0 or blends <= shortlist:
        count = int(blends)
    else:
        count = int(SCREEN_STRIDE * (blends - shortlist)) + shortlist
    return max(1, min(MAX_CANDIDATES, count))


@dataclass
class EnsembleReport:
    """The ensemble of a study.

    Attributes:
        members: trial numbers with a nonzero weight.
        weights: their weights (sum to 1).
        families: their model families.
        score: CV log loss of the final ensemble, fitted and scored on the same rows
            (optimistic).
        honest_score: CV log loss of the final ensemble when every stage is fitted without
            the fold it scores (the estimate to trust).
        best_single: the best trial's CV log loss.
        n_candidates: complete trials considered.
        seconds: time spent.
        submission: path of the written submission file, if any.
        method: ``"greedy"`` (weighted average), ``"calibration"`` (per-label Platt scaling of
            the weighted average) or ``"stacking"`` (per-label regression on the members).
        clip: the kept clipping bounds (:meth:`Clip.to_dict`), or ``None``.
        stages: each stage tried, in order: ``{"stage", "honest_score", "kept", "note"}``.
        stacker_artifact: the study artifact holding the stacker, when kept.
    """

    members: list[int]
    weights: list[float]
    families: list[str]
    score: float
    honest_score: float
    best_single: float
    n_candidates: int
    seconds: float
    submission: str | None = None
    method: str = "greedy"
    clip: dict[str, float] | None = None
    stages: list[dict[str, Any]] = field(default_factory=list)
    stacker_artifact: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored with the study)."""
        return asdict(self)


def _candidates(
    study: optuna.Study, artifacts: StudyArtifacts
) -> list[tuple[optuna.trial.FrozenTrial, Path]]:
    """The best complete trials whose OOF artifact is present, with its local file."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    ranked = sorted(
        (t for t in complete if t.user_attrs.get("oof_artifact")),
        key=lambda t: (t.value, t.number),
    )
    usable = []
    for trial in ranked:  # best first, so an object store downloads only what is used
        path = artifacts.local_path(trial.user_attrs["oof_artifact"])
        if path is not None:
            usable.append((trial, path))
            if len(usable) == MAX_CANDIDATES:
                break
    return usable


def _load(path: Path) -> np.ndarray:
    # .npy artifacts written by save_array: memory-mapped, so only touched pages are read.
    return np.load(path, mmap_mode="r", allow_pickle=False)


def build_ensemble(
    study: optuna.Study,
    location: StudyLocation,
    dataset: Dataset,
    *,
    max_iterations: int = 50,
    submission_path: str | Path | None = None,
    seconds: float | None = None,
    stacking: bool = True,
    clipping: bool = True,
) -> EnsembleReport:
    """Build the ensemble of a study's complete trials and store it with the study.

    Args:
        study: the study.
        location: where its artifacts are.
        dataset: the data the study was created on (for the labels and the test ids).
        max_iterations: greedy selection steps.
        submission_path: where to write the combined test predictions (ids + targets,
            controls 0); ``None`` writes nothing. Written only when every member has test
            predictions.
        seconds: time allowed; the candidates are then the best trials that selection and the
            honest estimate can handle in ``SELECTION_SHARE`` of it
            (:func:`affordable_candidates`), and calibration or stacking is skipped when its
            estimate would not fit in what is left.
        stacking: try a level-2 stacker (kept only if its honest estimate is better).
        clipping: try clipping bounds (kept only if the honest estimate improves).

    Returns:
        The report.

    Raises:
        StudyError: if the study has no complete trial or was made on other data.
    """
    started = time.perf_counter()
    meta = read_meta_for(study, dataset)
    artifacts = location.open_artifacts()
    candidates = _candidates(study, artifacts)
    if not candidates:
        raise StudyError(f"study {study.study_name!r} has no complete trial to ensemble yet")
    fold_of = np.asarray(meta.folds)
    n_folds = int(np.max(fold_of)) + 1
    if seconds is not None:
        share = SELECTION_SHARE * seconds
        affordable = affordable_candidates(share, *dataset.Y.shape, n_folds, max_iterations)
        candidates = candidates[:affordable]
    trials = [trial for trial, _ in candidates]
    oofs = [_load(path) for _, path in candidates]
    kn = dataset.known_negative
    options = {
        "max_iterations": max_iterations,
        "known_negative": kn,
        "shortlist": DEFAULT_SHORTLIST,
    }
    ensemble = select(oofs, dataset.Y, **options)
    honest = honest_evaluation(oofs, dataset.Y, fold_of, **options)
    member_oofs = [oofs[i] for i in ensemble.members]
    stages: list[dict[str, Any]] = [
        {"stage": "greedy", "honest_score": honest.score, "kept": True, "note": ""}
    ]
    current_score, current_oof = honest.score, honest.oof
    stacker = None
    if stacking:
        # Two level-2 alternatives to the weighted average, each with a nested estimate; the
        # better one replaces it if it beats the greedy estimate.
        best_nested = None
        for name, features, width in (
            ("calibration", "blend", 1),
            ("stacking", "members", len(ensemble.members)),
        ):
            left = None if seconds is None else seconds - (time.perf_counter() - started)
            per_cell = (
                len(ensemble.members) * LEVEL2_SECONDS_PER_MEMBER_CELL
                + width * LEVEL2_SECONDS_PER_FEATURE_CELL
            )
            cost = (n_folds + 1) * dataset.Y.size * per_cell
            if features == "members" and len(ensemble.members) < 2:
                stages.append(_stage(name, None, False, "one member: nothing to stack"))
                continue
            if left is not None and cost > left:
                stages.append(_stage(name, None, False, f"needs ~{cost:.0f}s, {left:.0f}s left"))
                continue
            nested = honest_stacking(
                oofs,
                dataset.Y,
                fold_of,
                honest.ensembles,
                honest.folds,
                known_negative=kn,
                features=features,
            )
            stages.append(_stage(name, nested.score, False, STAGE_NOTES[name]))
            if nested.score < current_score and (
                best_nested is None or nested.score < best_nested[1].score
            ):
                best_nested = (len(stages) - 1, nested, features)
        if best_nested is not None:
            index, nested, features = best_nested
            stages[index]["kept"] = True
            current_score, current_oof = nested.score, nested.oof
            stacker = fit_stacker(
                member_oofs, dataset.Y, ensemble.weights, known_negative=kn, features=features
            )
    clip = None
    if clipping:
        nested_clip = honest_clip(current_oof, dataset.Y, fold_of, known_negative=kn)
        kept = nested_clip.score < current_score and not nested_clip.clip.is_identity
        note = f"bounds [{nested_clip.clip.low:g}, 1 - {nested_clip.clip.high:g}]"
        stages.append(_stage("clipping", nested_clip.score, kept, note))
        if kept:
            current_score, clip = nested_clip.score, nested_clip.clip
    combiner = Combiner(tuple(ensemble.weights), stacker, clip)
    members = [trials[i] for i in ensemble.members]
    report = EnsembleReport(
        members=[t.number for t in members],
        weights=[float(w) for w in ensemble.weights],
        families=[t.user_attrs.get("family", "?") for t in members],
        score=mean_columnwise_log_loss(dataset.Y, combiner.combine(member_oofs, kn)),
        honest_score=float(current_score),
        best_single=float(trials[0].value),
        n_candidates=len(trials),
        seconds=0.0,
        method="greedy" if stacker is None else ("calibration" if stacker.on_blend else "stacking"),
        clip=None if clip is None else clip.to_dict(),
        stages=stages,
    )
    if stacker is not None:
        report.stacker_artifact = _save_stacker(study, artifacts, stacker)
    if submission_path is not None and dataset.X_test is not None:
        tests = [t.user_attrs.get("test_artifact") for t in members]
        paths = [artifacts.local_path(a) if a else None for a in tests]
        if all(p is not None for p in paths):
            preds = [_load(p) for p in paths]
            blend = combiner.combine(preds, dataset.test_known_negative)
            write_submission(submission_path, dataset, blend)
            report.submission = str(submission_path)
    report.seconds = time.perf_counter() - started
    study.set_user_attr(ENSEMBLE_ATTR, report.to_dict())
    return report


def _stage(stage: str, score: float | None, kept: bool, note: str) -> dict[str, Any]:
    return {
        "stage": stage,
        "honest_score": None if score is None else float(score),
        "kept": kept,
        "note": note,
    }


def _save_stacker(study: optuna.Study, artifacts: StudyArtifacts, stacker: Stacker) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stacker.npz"
        np.savez(path, allow_pickle=False, **stacker.to_arrays())
        return upload_artifact(
            artifact_store=artifacts.store,
            file_path=str(path),
            study_or_trial=study,
            mimetype="application/x-npz",
        )


def stored_combiner(study: optuna.Study, location: StudyLocation) -> Combiner:
    """The combiner of the ensemble stored with a study.

    Raises:
        StudyError: no stored ensemble, or its stacker artifact is missing.
    """
    report = stored_ensemble(study)
    if report is None:
        raise StudyError(f"study {study.study_name!r} has no ensemble yet")
    stacker = None
    if report.stacker_artifact:
        artifacts = location.open_artifacts()
        path = artifacts.local_path(report.stacker_artifact)
        if path is None:
            raise StudyError(
                f"study {study.study_name!r}: stacker artifact {report.stacker_artifact} is "
                f"missing from {artifacts.spec}"
            )
        with np.load(path, allow_pickle=False) as arrays:
            stacker = Stacker.from_arrays({k: arrays[k] for k in arrays.files})
    clip = None if report.clip is None else Clip.from_dict(report.clip)
    return Combiner(tuple(report.weights), stacker, clip)


def submission_path(location: StudyLocation) -> Path:
    """Where a study's test predictions go: ``WORKDIR/<study>/submission.csv``."""
    return Path(location.cache_dir).parent / location.study_name / "submission.csv"


def write_submission(path: str | Path, dataset: Dataset, proba: np.ndarray) -> None:
    """Write test ids + target columns (training order) as CSV, atomically."""
    write_predictions(path, dataset.id_name, dataset.test_ids, dataset.target_names, proba)


def write_prior_submission(path: str | Path, dataset: Dataset) -> str | None:
    """Write the constant prior's test predictions: what a search with no complete trial leaves.

    Each label is predicted by its Laplace-smoothed rate over the training rows (known
    negatives excluded, as in every trial), and known-negative test rows by 0.

    Returns:
        The path written, or ``None`` when the data has no test features.
    """
    if dataset.X_test is None:
        return None
    trainable = dataset.trainable_mask
    model = get_family(PRIOR_CONFIG.family)(**PRIOR_CONFIG.model_params)
    proba = model.fit(dataset.X[trainable], dataset.Y[trainable]).predict_proba(dataset.X_test)
    if dataset.test_known_negative is not None:
        proba[dataset.test_known_negative] = 0.0
    write_submission(path, dataset, proba)
    return str(path)


def write_predictions(
    path: str | Path,
    id_name: str,
    ids: np.ndarray,
    target_names: tuple[str, ...],
    proba: np.ndarray,
) -> None:
    """Write ids + target columns as CSV, atomically (write to a temporary file, then rename)."""
    path = Path(path)
    frame = pd.DataFrame(proba, columns=list(target_names))
    frame.insert(0, id_name, ids)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w", newline="") as out:
        frame.to_csv(out, index=False, float_format="%.8g")


def stored_ensemble(study: optuna.Study) -> EnsembleReport | None:
    """The ensemble stored with a study by :func:`build_ensemble`, if any."""
    data = study.user_attrs.get(ENSEMBLE_ATTR)
    return None if data is None else EnsembleReport(**data)
