"""The ensemble step of a study: greedy selection over the trials' out-of-fold predictions.

Candidates are the complete trials; their OOF matrices are memory-mapped from the artifact
store (never all loaded at once). :func:`automoa.ensemble.select` picks members and weights on
all rows (the hill-climbing score) and :func:`automoa.ensemble.honest_score` repeats the
selection on K-1 folds and scores the held-out fold, which is the estimate to trust. The result
is stored with the study (user attribute ``automoa_ensemble``), and when the data has test
features the blended test predictions are written in the ``sample_submission.csv`` format.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd

from automoa.data.dataset import Dataset
from automoa.ensemble import SCREEN_STRIDE, honest_score, select
from automoa.exceptions import StudyError
from automoa.search.study import StudyLocation, read_meta

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
        score: CV log loss of the blend, selected and scored on the same rows (optimistic).
        honest_score: CV log loss when selection sees K-1 folds and is scored on the last one.
        best_single: the best trial's CV log loss.
        n_candidates: complete trials considered.
        seconds: time spent.
        submission: path of the written submission file, if any.
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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored with the study)."""
        return asdict(self)


def _candidates(study: optuna.Study, artifacts_dir: Path) -> list[optuna.trial.FrozenTrial]:
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    usable = [
        t
        for t in complete
        if t.user_attrs.get("oof_artifact")
        and (artifacts_dir / t.user_attrs["oof_artifact"]).exists()
    ]
    return sorted(usable, key=lambda t: (t.value, t.number))[:MAX_CANDIDATES]


def _load(artifacts_dir: Path, artifact_id: str) -> np.ndarray:
    # .npy artifacts written by save_array: memory-mapped, so only touched pages are read.
    return np.load(artifacts_dir / artifact_id, mmap_mode="r", allow_pickle=False)


def build_ensemble(
    study: optuna.Study,
    location: StudyLocation,
    dataset: Dataset,
    *,
    max_iterations: int = 50,
    submission_path: str | Path | None = None,
    seconds: float | None = None,
) -> EnsembleReport:
    """Select the ensemble of a study's complete trials and store it with the study.

    Args:
        study: the study.
        location: where its artifacts are.
        dataset: the data the study was created on (for the labels and the test ids).
        max_iterations: greedy selection steps.
        submission_path: where to write the blended test predictions (ids + targets, controls
            0); ``None`` writes nothing. Written only when every member has test predictions.
        seconds: time allowed; the candidates are then the best trials that selection and the
            honest estimate can handle in that time (:func:`affordable_candidates`).

    Returns:
        The report.

    Raises:
        StudyError: if the study has no complete trial or was made on other data.
    """
    started = time.perf_counter()
    meta = read_meta(study)
    if meta.fingerprint != dataset.fingerprint:
        raise StudyError(
            f"study {study.study_name!r} was created on other data (fingerprint "
            f"{meta.fingerprint[:12]}, this data {dataset.fingerprint[:12]})"
        )
    artifacts_dir = Path(location.artifacts_dir)
    trials = _candidates(study, artifacts_dir)
    if not trials:
        raise StudyError(f"study {study.study_name!r} has no complete trial to ensemble yet")
    if seconds is not None:
        n_folds = int(np.max(meta.folds)) + 1
        trials = trials[: affordable_candidates(seconds, *dataset.Y.shape, n_folds, max_iterations)]
    oofs = [_load(artifacts_dir, t.user_attrs["oof_artifact"]) for t in trials]
    options = {
        "max_iterations": max_iterations,
        "known_negative": dataset.known_negative,
        "shortlist": DEFAULT_SHORTLIST,
    }
    ensemble = select(oofs, dataset.Y, **options)
    honest = honest_score(oofs, dataset.Y, np.asarray(meta.folds), **options)
    members = [trials[i] for i in ensemble.members]
    report = EnsembleReport(
        members=[t.number for t in members],
        weights=[float(w) for w in ensemble.weights],
        families=[t.user_attrs.get("family", "?") for t in members],
        score=float(ensemble.score),
        honest_score=float(honest),
        best_single=float(trials[0].value),
        n_candidates=len(trials),
        seconds=0.0,
    )
    if submission_path is not None and dataset.X_test is not None:
        tests = [t.user_attrs.get("test_artifact") for t in members]
        if all(tests):
            blend = sum(
                w * _load(artifacts_dir, a).astype(np.float64)
                for w, a in zip(report.weights, tests, strict=True)
            )
            if dataset.test_known_negative is not None:
                blend[dataset.test_known_negative] = 0.0
            write_submission(submission_path, dataset, blend.astype(np.float32))
            report.submission = str(submission_path)
    report.seconds = time.perf_counter() - started
    study.set_user_attr(ENSEMBLE_ATTR, report.to_dict())
    return report


def submission_path(location: StudyLocation) -> Path:
    """Where a study's test predictions go: ``WORKDIR/<study>/submission.csv``."""
    return Path(location.cache_dir).parent / location.study_name / "submission.csv"


def write_submission(path: str | Path, dataset: Dataset, proba: np.ndarray) -> None:
    """Write ids + target columns (training order) as CSV, atomically (write, then rename)."""
    path = Path(path)
    frame = pd.DataFrame(proba, columns=list(dataset.target_names))
    frame.insert(0, dataset.id_name, dataset.test_ids)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", newline="") as out:
            frame.to_csv(out, index=False, float_format="%.8g")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def stored_ensemble(study: optuna.Study) -> EnsembleReport | None:
    """The ensemble stored with a study by :func:`build_ensemble`, if any."""
    data = study.user_attrs.get(ENSEMBLE_ATTR)
    return None if data is None else EnsembleReport(**data)
