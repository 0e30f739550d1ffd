"""The ensemble step of a study: load the candidates, run the ensemble pipeline, persist.

Candidates are the best complete trials; their OOF matrices are memory-mapped from the artifact
store (never all loaded at once). :func:`automoa.ensemble.pipeline.run_pipeline` chooses the
selection variant, the level-2 stage and the clipping by their honest (nested) estimates and
applies the floor (never worse than the best single trial's CV score).

The result is stored with the study (user attribute ``automoa_ensemble``; a level-2 model as a
study artifact), and when the data has test features the combined test predictions are written
in the ``sample_submission.csv`` format. Known-negative rows are always predicted 0: the data
declares them all-negative, so no estimate is needed to keep that.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
import warnings
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.artifacts import upload_artifact
from optuna.trial import TrialState

from automoa.data.dataset import Dataset
from automoa.data.io import write_predictions
from automoa.deadline import Deadline
from automoa.ensemble.clipping import Clip
from automoa.ensemble.combiner import Combiner
from automoa.ensemble.level2 import Level2Model, level2_from_arrays
from automoa.ensemble.pipeline import PipelineOptions, PipelineResult, run_pipeline
from automoa.exceptions import StudyError
from automoa.metrics import mean_columnwise_log_loss
from automoa.models.registry import get_family
from automoa.npz import save_npz
from automoa.search.artifact_store import StudyArtifacts
from automoa.search.pruning import is_seed_sibling
from automoa.search.record import TrialRecord
from automoa.search.seeds import seed_groups, train_seed_siblings
from automoa.search.study import PRIOR_CONFIG, StudyLocation, check_study_name, read_meta_for
from automoa.threads import worker_threads

ENSEMBLE_ATTR = "automoa_ensemble"
#: Budgets from which members get an extra seed by default (2 from four times this).
AUTO_SEEDS_FROM = 1800.0
#: Seed siblings leave this many times the first pipeline pass's seconds for the second.
SEED_PIPELINE_MARGIN = 1.5
#: Candidates considered at most: the best trials by CV score.
MAX_CANDIDATES = 300


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
            the fold it scores (the estimate to trust); when the floor applied, the best
            trial's CV score.
        best_single: the best trial's CV log loss.
        n_candidates: complete trials considered.
        seconds: time spent.
        submission: path of the written submission file, if any.
        method: how the members are combined: ``"average"`` (weighted average),
            ``"calibration"`` (per-label Platt scaling of the weighted average),
            ``"stacking"`` (per-label regression on the members) or ``"cross_label"``
            (per-label regression on the blend of the label and its most correlated labels).
        clip: the kept clipping bounds (:meth:`Clip.to_dict`), or ``None``.
        stages: each stage considered, in order (see
            :class:`automoa.ensemble.pipeline.StageRecord`).
        stacker_artifact: the study artifact holding the level-2 model, when kept.
        selection: the selection variant kept (``best_single`` when the floor applied).
        floor: whether the best trial alone replaced an ensemble whose honest estimate was
            worse than its CV score.
        seed_groups: the members averaged over seeds, each as ``[trial, sibling, ...]`` (its
            weight split evenly over them).
        seed_gain: honest estimate without seed siblings minus with them (positive: the
            seeds helped), when any member had siblings.
        seed_notes: why seed siblings were not trained, when some were asked for.
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
    method: str = "average"
    clip: dict[str, float] | None = None
    stages: list[dict[str, Any]] = field(default_factory=list)
    stacker_artifact: str | None = None
    selection: str = "greedy"
    floor: bool = False
    seed_groups: list[list[int]] = field(default_factory=list)
    seed_gain: float | None = None
    seed_notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored with the study)."""
        return asdict(self)


@dataclass(frozen=True)
class Candidate:
    """A search trial offered to the ensemble, with its complete seed siblings."""

    trial: optuna.trial.FrozenTrial
    paths: tuple[Path, ...]  # OOF files: the trial's, then its siblings'
    numbers: tuple[int, ...]  # trial numbers in the same order

    def oof(self, averaged: bool) -> np.ndarray:
        if not averaged or len(self.paths) == 1:
            return _load(self.paths[0])
        total = np.array(_load(self.paths[0]), dtype=np.float64)
        for path in self.paths[1:]:
            total += _load(path)
        return (total / len(self.paths)).astype(np.float32)


def _readable(path: Path, shape: tuple[int, int], trial: int) -> bool:
    """Whether ``path`` holds a float (n, L) array; if not, say so once and leave it out.

    The check reads the ``.npy`` header only (memory-mapped, ``allow_pickle=False``): a file
    replaced by anything else (a pickle, a truncated write) is never unpickled or run.
    """
    try:
        array = _load(path)
        ok = array.shape == shape and array.dtype.kind == "f"
        reason = f"shape {array.shape} {array.dtype}, expected {shape} floats"
    except (OSError, ValueError, EOFError) as exc:
        ok, reason = False, str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
    if not ok:
        warnings.warn(
            f"trial {trial}: artifact {path.name} is not usable ({reason}); left out",
            UserWarning,
            stacklevel=2,
        )
    return ok


def ensemble_candidates(
    study: optuna.Study, artifacts: StudyArtifacts, shape: tuple[int, int]
) -> list[Candidate]:
    """The best complete search trials whose OOF artifact is present and readable, with their
    seed siblings: what the ensemble step chooses from, best first.

    Args:
        study: the study.
        artifacts: its artifact store.
        shape: the (n, L) shape every OOF array must have.

    Returns:
        At most ``MAX_CANDIDATES`` candidates.
    """
    trials = study.get_trials(deepcopy=False)
    by_number = {t.number: t for t in trials}
    groups = seed_groups(trials)
    complete = [
        t
        for t in trials
        if t.state == TrialState.COMPLETE
        and not is_seed_sibling(t)
        and TrialRecord.read(t).oof_artifact
    ]
    usable = []
    for trial in sorted(complete, key=lambda t: (t.value, t.number)):
        # Best first, so an object store downloads only what is used.
        path = artifacts.local_path(TrialRecord.read(trial).oof_artifact)
        if path is None or not _readable(path, shape, trial.number):
            continue
        paths, numbers = [path], [trial.number]
        for number in groups.get(trial.number, [trial.number])[1:]:
            artifact = TrialRecord.read(by_number[number]).oof_artifact
            sibling = artifacts.local_path(artifact) if artifact else None
            if sibling is not None and _readable(sibling, shape, number):
                paths.append(sibling)
                numbers.append(number)
        usable.append(Candidate(trial, tuple(paths), tuple(numbers)))
        if len(usable) == MAX_CANDIDATES:
            break
    return usable


def candidate_group(trial: optuna.trial.FrozenTrial) -> str:
    """A trial's group for the diverse pool: its family and preprocessing chain."""
    record = TrialRecord.read(trial)
    config = record.config or {}
    steps = ">".join(str(step.get("name", "?")) for step in config.get("preprocessing") or [])
    return f"{record.family or '?'}|{steps}"


def _load(path: Path) -> np.ndarray:
    # .npy artifacts written by save_array: memory-mapped, so only touched pages are read.
    return np.load(path, mmap_mode="r", allow_pickle=False)


def auto_seeds(budget_seconds: float | None) -> int:
    """Extra seeds per selected member by default: none below 30 minutes, 1, then 2 from 2 h."""
    if budget_seconds is None or budget_seconds < AUTO_SEEDS_FROM:
        return 0
    return 2 if budget_seconds >= 4 * AUTO_SEEDS_FROM else 1


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
    extra_seeds: int = 0,
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
        seconds: time allowed; a stage whose predicted time does not fit what is left is
            skipped (and reported so), and so is a seed sibling.
        stacking: try the level-2 stages (each kept only if its honest estimate is better).
        clipping: try clipping bounds (kept only if the honest estimate improves).
        extra_seeds: re-train each selected member with this many extra seeds when the time
            allows (most weighted first; see :mod:`automoa.search.seeds`); every candidate
            with seed siblings (trained now or earlier) is then offered averaged over its
            seeds to the same pipeline, which is kept when its honest estimate is better.

    Returns:
        The report.

    Raises:
        StudyError: if the study has no complete trial or was made on other data.
    """
    started = time.perf_counter()
    deadline = Deadline(seconds)
    meta = read_meta_for(study, dataset)
    artifacts = location.open_artifacts()
    candidates = ensemble_candidates(study, artifacts, dataset.Y.shape)
    if not candidates:
        raise StudyError(f"study {study.study_name!r} has no complete trial to ensemble yet")
    kn = dataset.known_negative
    fold_of = np.asarray(meta.folds)
    level2 = PipelineOptions.level2 if stacking else ()
    groups = [candidate_group(c.trial) for c in candidates]

    def pipeline(averaged: bool, until: Deadline) -> PipelineResult:
        oofs = [c.oof(averaged) for c in candidates]
        scores = [
            mean_columnwise_log_loss(dataset.Y, _zeroed(oof, kn))
            if averaged and len(c.paths) > 1
            else float(c.trial.value)
            for c, oof in zip(candidates, oofs, strict=True)
        ]
        # A member's logits cannot be split over its seeds: per-member stacking is left out.
        kinds = tuple(s for s in level2 if not (averaged and s == "stacking"))
        options = PipelineOptions(
            max_iterations=max_iterations,
            level2=kinds,
            clipping=clipping,
            n_jobs=worker_threads(),
        )
        return run_pipeline(
            oofs,
            dataset.Y,
            fold_of,
            scores=scores,
            groups=groups,
            known_negative=kn,
            deadline=until,
            options=options,
        )

    began = time.perf_counter()
    result = pipeline(False, deadline)
    pipeline_seconds = time.perf_counter() - began
    seed_notes: list[str] = []
    if extra_seeds > 0:
        weights = dict(zip(result.ensemble.members, result.ensemble.weights, strict=True))
        origins = [candidates[i].trial.number for i in sorted(weights, key=lambda i: -weights[i])]
        # Keep time for a second pass of the pipeline over the seed-averaged candidates.
        trained = train_seed_siblings(
            study,
            location,
            dataset,
            origins,
            n_extra_seeds=extra_seeds,
            deadline=deadline.sub(SEED_PIPELINE_MARGIN * pipeline_seconds),
        )
        seed_notes.extend(trained.notes)
        if trained.trained:
            candidates = ensemble_candidates(study, artifacts, dataset.Y.shape)
            groups = [candidate_group(c.trial) for c in candidates]
    seed_gain = None
    averaged = False
    if any(len(c.paths) > 1 for c in candidates):
        with_seeds = pipeline(True, deadline)
        seed_gain = result.honest_score - with_seeds.honest_score
        if with_seeds.honest_score <= result.honest_score:
            result, averaged = with_seeds, True
    chosen = [candidates[i] for i in result.ensemble.members]
    numbers, weights = [], []
    for candidate, weight in zip(chosen, result.ensemble.weights, strict=True):
        share = candidate.numbers if averaged else candidate.numbers[:1]
        numbers.extend(share)
        weights.extend([weight / len(share)] * len(share))
    combiner = _expanded(result.combiner, weights)
    by_number = {t.number: t for t in study.get_trials(deepcopy=False)}
    members = [by_number[n] for n in numbers]
    report = EnsembleReport(
        members=numbers,
        weights=[float(w) for w in combiner.weights],
        families=[TrialRecord.read(t).family or "?" for t in members],
        score=result.score,
        honest_score=result.honest_score,
        best_single=min(float(c.trial.value) for c in candidates),
        n_candidates=len(candidates),
        seconds=0.0,
        method=result.method,
        clip=None if combiner.clip is None else combiner.clip.to_dict(),
        stages=[record.to_dict() for record in result.stages],
        selection=result.selection,
        floor=result.floor,
        seed_groups=[list(c.numbers) for c in chosen if averaged and len(c.numbers) > 1],
        seed_gain=seed_gain,
        seed_notes=seed_notes,
    )
    if combiner.stacker is not None:
        report.stacker_artifact = _save_stacker(study, artifacts, combiner.stacker)
    if submission_path is not None and dataset.X_test is not None:
        tests = [TrialRecord.read(t).test_artifact for t in members]
        paths = [artifacts.local_path(a) if a else None for a in tests]
        test_shape = (dataset.X_test.shape[0], dataset.n_labels)
        # Unreadable test predictions (not an array of that shape): no submission, said once.
        if all(
            p is not None and _readable(p, test_shape, t.number)
            for p, t in zip(paths, members, strict=True)
        ):
            preds = [_load(p) for p in paths]
            blend = combiner.combine(preds, dataset.test_known_negative)
            write_submission(submission_path, dataset, blend)
            report.submission = str(submission_path)
    report.seconds = time.perf_counter() - started
    study.set_user_attr(ENSEMBLE_ATTR, report.to_dict())
    return report


def _zeroed(oof: np.ndarray, known_negative: np.ndarray | None) -> np.ndarray:
    if known_negative is None:
        return oof
    out = np.array(oof, dtype=np.float32)
    out[known_negative] = 0.0
    return out


def _expanded(combiner: Combiner, weights: list[float]) -> Combiner:
    """The combiner over the members split into their seeds (the blend is unchanged)."""
    if len(weights) == len(combiner.weights):
        return combiner
    stacker = combiner.stacker
    if stacker is not None:
        # Only blend-reading stages are fitted on seed-averaged members (see build_ensemble).
        stacker = dataclasses.replace(stacker, weights=np.asarray(weights))
    return Combiner(tuple(weights), stacker, combiner.clip)


def _save_stacker(study: optuna.Study, artifacts: StudyArtifacts, stacker: Level2Model) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stacker.npz"
        save_npz(path, stacker.to_arrays())
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
        try:
            with np.load(path, allow_pickle=False) as arrays:
                stacker = level2_from_arrays({k: arrays[k] for k in arrays.files})
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise StudyError(
                f"study {study.study_name!r}: stacker artifact {report.stacker_artifact} is "
                f"unreadable ({str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r})"
            ) from None
    clip = None if report.clip is None else Clip.from_dict(report.clip)
    return Combiner(tuple(report.weights), stacker, clip)


def submission_path(location: StudyLocation) -> Path:
    """Where a study's test predictions go: ``WORKDIR/<study>/submission.csv``.

    Raises:
        ConfigError: a study name that could reach outside the work directory.
    """
    name = check_study_name(location.study_name, "study name")
    return Path(location.cache_dir).parent / name / "submission.csv"


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


def stored_ensemble(study: optuna.Study) -> EnsembleReport | None:
    """The ensemble stored with a study by :func:`build_ensemble`, if any."""
    data = study.user_attrs.get(ENSEMBLE_ATTR)
    return None if data is None else EnsembleReport(**data)
