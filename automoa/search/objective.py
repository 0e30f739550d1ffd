"""One trial: a pipeline evaluated by K-fold cross-validation on the study's shared folds."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from automoa.config import PipelineConfig
from automoa.data.dataset import Dataset
from automoa.deadline import Deadline
from automoa.exceptions import BudgetExhausted, PruneTrial
from automoa.fitted import FoldModel
from automoa.folds import fold_indices
from automoa.interrupts import raise_if_interrupted
from automoa.metrics import mean_columnwise_log_loss
from automoa.models.registry import get_family
from automoa.preprocessing.cache import StepCache, fold_key
from automoa.preprocessing.chain import prepare_fold
from automoa.search.checkpoints import FoldCheckpoints, FoldRecord

#: Called after each fold with (fold number, mean loss of the folds so far); returns True when
#: the trial should stop (pruned).
FoldReporter = Callable[[int, float], bool]


class TrialStopped(Exception):
    """The trial stopped before scoring every fold (pruned, or out of budget)."""

    def __init__(
        self, reason: str, fold_scores: list[float], fold_seconds: list[float] | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fold_scores = fold_scores
        #: seconds of the folds that finished (the cost model learns from pruned trials too)
        self.fold_seconds = [] if fold_seconds is None else fold_seconds


@dataclass
class TrialResult:
    """The outcome of a fully cross-validated pipeline.

    Attributes:
        oof: float32 (n, L) out-of-fold predictions, aligned with the dataset's rows;
            known-negative rows are 0.
        cv_score: the metric on ``oof`` against all rows.
        fold_scores: the metric on each fold's validation rows.
        fold_seconds: wall seconds of each fold (fit + predict).
        test_pred: float32 test predictions averaged over fold models, or ``None``.
        fold_models: the fitted models, when asked to keep them.
    """

    oof: np.ndarray
    cv_score: float
    fold_scores: list[float]
    fold_seconds: list[float]
    test_pred: np.ndarray | None = None
    fold_models: list[FoldModel] = field(default_factory=list)

    @property
    def fold_std(self) -> float:
        """Standard deviation of the fold scores."""
        return float(np.std(self.fold_scores))


def data_key(dataset: Dataset) -> str:
    """The fingerprint plus the test features (cached entries hold transformed test rows)."""
    digest = hashlib.sha256(dataset.fingerprint.encode())
    if dataset.X_test is not None:
        digest.update(np.ascontiguousarray(dataset.X_test).tobytes())
    return digest.hexdigest()


def _fit_fold(
    config: PipelineConfig,
    dataset: Dataset,
    train_idx: np.ndarray,
    scored_valid: np.ndarray,
    *,
    fold_seed: int,
    deadline: Deadline | None,
    device: str,
    test_fit_rows: np.ndarray | None,
    cache: StepCache | None,
    cache_key: str,
    fold_scores: list[float],
    fold_seconds: list[float],
) -> tuple[FoldRecord, FoldModel]:
    """Fit one fold's chain and model on its training rows; predict its validation and test rows."""
    started = time.perf_counter()
    try:
        prepared = prepare_fold(
            config.preprocessing,
            dataset.X[train_idx],
            dataset.Y[train_idx],
            dataset.X[scored_valid],
            dataset.X_test,
            dataset.feature_names,
            seed=fold_seed,
            test_fit_rows=test_fit_rows,
            cache=cache,
            fold_key=None
            if cache is None
            else fold_key(cache_key, train_idx, scored_valid, fold_seed),
        )
        # The training rows that are real, in the order of the prepared rows' leading part (an
        # undersampler may have dropped some).
        real_rows = train_idx[prepared.kept_rows]
        model = get_family(config.family)(**config.model_params).fit(
            prepared.X_train,
            prepared.Y_train,
            X_valid=prepared.X_valid,
            Y_valid=dataset.Y[scored_valid],
            deadline=deadline,
            seed=fold_seed,
            device=device,
            loss=config.loss,
            Y_aux=None if dataset.Y_aux is None else dataset.Y_aux[real_rows],
            # Without groups every row is its own group; either way len(groups) tells the
            # family which rows are real (resampled rows come after them).
            groups=real_rows if dataset.groups is None else dataset.groups[real_rows],
        )
    except BudgetExhausted as exc:
        raise TrialStopped(f"budget: {exc}", fold_scores, fold_seconds) from exc
    except PruneTrial as exc:
        raise TrialStopped(str(exc), fold_scores, fold_seconds) from exc
    oof_rows = model.predict_proba(prepared.X_valid)
    test = None if prepared.X_test is None else model.predict_proba(prepared.X_test)
    record = FoldRecord(oof_rows, test, time.perf_counter() - started)
    return record, FoldModel(prepared.chain, model)


def check_time_left(
    deadline: Deadline | None,
    fold_seconds_each: float,
    first_fold: int,
    n_splits: int,
    fold_scores: list[float] | None = None,
    fold_seconds: list[float] | None = None,
) -> None:
    """Stop the trial unless folds ``first_fold..n_splits-1`` fit the time left.

    Raises:
        TrialStopped: with a ``budget:`` reason, when they do not.
    """
    needed = fold_seconds_each * (n_splits - first_fold)
    if deadline is not None and not deadline.can_fit(needed):
        raise TrialStopped(
            f"budget: folds {first_fold}-{n_splits - 1} need ~{needed:.1f}s, "
            f"{max(deadline.remaining(), 0):.1f}s left",
            [] if fold_scores is None else fold_scores,
            fold_seconds,
        )


def evaluate(
    config: PipelineConfig,
    dataset: Dataset,
    fold_of: np.ndarray,
    *,
    deadline: Deadline | None = None,
    reporter: FoldReporter | None = None,
    seed: int = 0,
    device: str = "cpu",
    expected_fold_seconds: float = 0.0,
    keep_models: bool = False,
    cache: StepCache | None = None,
    checkpoints: FoldCheckpoints | None = None,
) -> TrialResult:
    """Cross-validate ``config`` on the shared folds.

    For each fold, the preprocessing chain and the model are fitted on the fold's training rows
    only (known-negative rows excluded); validation and test rows are only transformed and
    predicted (a step opting in to ``fit_on: train+test`` also sees their features, never their
    labels). Known-negative rows are predicted 0.

    Args:
        config: the pipeline.
        dataset: the data.
        fold_of: the study's fold assignment (one fold index per row).
        deadline: no fold starts unless ``expected_fold_seconds`` fit before it; a fit running
            past it stops. Either way the trial is stopped, never scored on partial CV.
        reporter: called after each fold; returning True stops (prunes) the trial.
        seed: base seed; fold ``k`` fits with ``seed + k``.
        device: passed to the model family.
        expected_fold_seconds: the predicted duration of one fold (the cost model's).
        keep_models: keep the fitted fold models in the result.
        cache: fitted preprocessing prefixes shared across trials (see
            :class:`~automoa.preprocessing.StepCache`).
        checkpoints: where each finished fold's predictions are saved, and where folds
            finished by an earlier attempt of the same pipeline are read back instead of
            refitted (not with ``keep_models``, which needs the fitted models).

    Returns:
        The trial result.

    Raises:
        TrialStopped: pruned by the reporter, out of budget, or a configuration that cannot run
            on this data (e.g. a variance threshold that removes every column).
    """
    get_family(config.family)  # an unknown family fails before any fold is fitted
    n_splits = int(fold_of.max()) + 1
    trainable = dataset.trainable_mask
    oof = np.zeros(dataset.Y.shape, dtype=np.float32)
    test_pred = None
    if dataset.X_test is not None:
        test_pred = np.zeros((dataset.X_test.shape[0], dataset.n_labels), dtype=np.float64)
    fold_scores: list[float] = []
    fold_seconds: list[float] = []
    fold_models: list[FoldModel] = []
    # Known-negative test rows are never fitted on, even by transductive steps.
    test_fit_rows = None if dataset.test_known_negative is None else ~dataset.test_known_negative
    cache_key = data_key(dataset) if cache is not None else ""

    for fold in range(n_splits):
        raise_if_interrupted()  # a Ctrl-C swallowed during the last fold stops the trial here
        train_idx, valid_idx = fold_indices(fold_of, fold)
        train_idx = train_idx[trainable[train_idx]]
        scored_valid = valid_idx[trainable[valid_idx]]
        record = None
        if checkpoints is not None and not keep_models:
            record = checkpoints.load(fold, scored_valid.size, dataset.n_labels)
        if record is None:
            # A fold starts only if every remaining fold can finish: a partial CV is never
            # scored. Once a fold is measured, the measurement replaces the prediction.
            per_fold = max(fold_seconds) if fold_seconds else expected_fold_seconds
            check_time_left(deadline, per_fold, fold, n_splits, fold_scores, fold_seconds)
            record, fitted = _fit_fold(
                config,
                dataset,
                train_idx,
                scored_valid,
                fold_seed=seed + fold,
                deadline=deadline,
                device=device,
                test_fit_rows=test_fit_rows,
                cache=cache,
                cache_key=cache_key,
                fold_scores=fold_scores,
                fold_seconds=fold_seconds,
            )
            if keep_models:
                fold_models.append(fitted)
            if checkpoints is not None:
                checkpoints.save(fold, record)
        oof[scored_valid] = record.oof_rows
        if test_pred is not None and record.test_pred is not None:
            test_pred += record.test_pred / n_splits
        fold_seconds.append(record.seconds)
        fold_scores.append(mean_columnwise_log_loss(dataset.Y[valid_idx], oof[valid_idx]))
        if reporter is not None and reporter(fold, float(np.mean(fold_scores))):
            raise TrialStopped(
                f"pruned after fold {fold}: mean fold log loss {np.mean(fold_scores):.5f}",
                fold_scores,
                fold_seconds,
            )

    if test_pred is not None and dataset.test_known_negative is not None:
        test_pred[dataset.test_known_negative] = 0.0
    return TrialResult(
        oof=oof,
        cv_score=mean_columnwise_log_loss(dataset.Y, oof),
        fold_scores=fold_scores,
        fold_seconds=fold_seconds,
        test_pred=None if test_pred is None else test_pred.astype(np.float32),
        fold_models=fold_models,
    )
