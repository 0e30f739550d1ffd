"""The systems a benchmark compares, run in this process.

Each takes a :class:`~automoa.benchmark.tasks.BenchmarkTask`'s training data (with the
held-out rows as test features), a wall-clock budget where it has one, a seed and a number of
cores, and returns its test predictions. Known-negative rows (MoA controls) are never trained
on and are predicted 0 by every system, as the metric expects.

- ``prior``: each label's Laplace-smoothed training rate.
- ``logreg``: one L2 logistic regression per label on standardised features, C chosen per
  label from {1e-4, ..., 1} by 3-fold CV log loss (the reference of ``../shared/datasets``).
- ``xgboost``: XGBoost with its default parameters, one output per label.
- ``mlp-starter``: the Kaggle MoA starter recipe with fixed parameters (rank-gauss, gene/cell
  PCA appended where the data has ``g-``/``c-`` columns, variance filter, 2 x 1024 MLP with
  BatchNorm, dropout 0.25, weight norm, OneCycle, 25 epochs, label smoothing 0.001), 5-fold
  models averaged on the test rows, as the starter notebooks do.
- ``automoa``: ``automoa.search`` within the budget (search and ensemble), default space.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import optuna

from automoa import api
from automoa.benchmark.tasks import BenchmarkTask
from automoa.data import Dataset
from automoa.folds import make_folds
from automoa.metrics import EPS, mean_columnwise_log_loss, prior_probabilities
from automoa.threads import thread_limit

LOGREG_CS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
LOGREG_MIN_POSITIVES = 3  # fewer: C = 0.1 without CV (as the shared reference does)


@dataclass
class SystemRun:
    """What a system produced for one task.

    Attributes:
        test_proba: (n_test, L) probabilities of the held-out rows.
        cv_log_loss: the system's own estimate of its loss, when it makes one.
        anytime: ``(seconds since start, test predictions)`` of the model the system would
            return at that moment (its incumbent), for anytime curves; the final point is added
            by the runner.
    """

    test_proba: np.ndarray
    cv_log_loss: float | None = None
    anytime: list[tuple[float, np.ndarray]] = field(default_factory=list)
    notes: str = ""


def finish_predictions(train: Dataset, proba: np.ndarray) -> np.ndarray:
    """Clip to the metric's range and zero the known-negative test rows."""
    proba = np.clip(np.asarray(proba, dtype=np.float64), EPS, 1 - EPS)
    if train.test_known_negative is not None:
        proba[train.test_known_negative] = 0.0
    return proba


def run_prior(task: BenchmarkTask, seed: int, cores: int) -> SystemRun:
    """Each label's smoothed training rate."""
    train = task.train
    rates = prior_probabilities(train.Y[train.trainable_mask])
    return SystemRun(finish_predictions(train, np.tile(rates, (train.X_test.shape[0], 1))))


def _logreg_label(
    X: np.ndarray, y: np.ndarray, X_test: np.ndarray, seed: int
) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold

    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        rate = (positives + 1.0) / (len(y) + 2.0)
        return np.full(X_test.shape[0], rate), float("nan")

    def model(c: float) -> LogisticRegression:
        return LogisticRegression(C=c, solver="newton-cholesky", max_iter=200)

    best_c, best_loss = 0.1, float("nan")
    if min(positives, len(y) - positives) >= LOGREG_MIN_POSITIVES:
        splitter = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
        losses = []
        for c in LOGREG_CS:
            oof = np.empty(len(y))
            for fit_rows, valid_rows in splitter.split(X, y):
                oof[valid_rows] = (
                    model(c).fit(X[fit_rows], y[fit_rows]).predict_proba(X[valid_rows])[:, 1]
                )
            losses.append(log_loss(y, np.clip(oof, EPS, 1 - EPS), labels=[0, 1]))
        best = int(np.argmin(losses))
        best_c, best_loss = LOGREG_CS[best], float(losses[best])
    return model(best_c).fit(X, y).predict_proba(X_test)[:, 1], best_loss


def run_logreg(task: BenchmarkTask, seed: int, cores: int) -> SystemRun:
    """Per-label logistic regression with C tuned by 3-fold CV log loss."""
    from joblib import Parallel, delayed
    from sklearn.preprocessing import StandardScaler

    train = task.train
    rows = train.trainable_mask
    scaler = StandardScaler().fit(train.X[rows])
    X = scaler.transform(train.X[rows])
    X_test = scaler.transform(train.X_test)
    Y = train.Y[rows]
    results = Parallel(n_jobs=cores)(
        delayed(_logreg_label)(X, Y[:, j], X_test, seed) for j in range(Y.shape[1])
    )
    proba = np.column_stack([p for p, _ in results])
    losses = [loss for _, loss in results if np.isfinite(loss)]
    return SystemRun(finish_predictions(train, proba), float(np.mean(losses)) if losses else None)


def run_logreg_path(task: BenchmarkTask, seed: int, cores: int) -> SystemRun:
    """Per-label logistic regression, each label's C from an 8-point path by an inner split.

    automoa's ``linear`` family (the groups of the training rows kept whole in its inner
    split) fitted once on all training rows: the same estimator as ``logreg``, tuned per label,
    in about a minute at MoA size where ``logreg``'s 3-fold grid takes an hour and a half.
    """
    from automoa.models.registry import get_family

    train = task.train
    rows = train.trainable_mask
    groups = None if train.groups is None else train.groups[rows]
    with thread_limit(cores):
        model = get_family("linear")().fit(train.X[rows], train.Y[rows], seed=seed, groups=groups)
        proba = model.predict_proba(train.X_test)
    return SystemRun(finish_predictions(train, proba))


def run_xgboost(task: BenchmarkTask, seed: int, cores: int) -> SystemRun:
    """XGBoost with default parameters, one output per label (labels with no positive: rate)."""
    import xgboost

    train = task.train
    rows = train.trainable_mask
    Y = train.Y[rows]
    proba = np.tile(prior_probabilities(Y), (train.X_test.shape[0], 1))
    varied = np.flatnonzero((Y.sum(axis=0) > 0) & (Y.sum(axis=0) < Y.shape[0]))
    if varied.size:
        model = xgboost.XGBClassifier(n_jobs=cores, random_state=seed)
        model.fit(train.X[rows], Y[:, varied] if varied.size > 1 else Y[:, varied[0]])
        predicted = model.predict_proba(train.X_test)
        proba[:, varied] = predicted if varied.size > 1 else predicted[:, 1:2]
    return SystemRun(finish_predictions(train, proba))


def mlp_starter_config(train: Dataset):
    """The MoA starter recipe as a pipeline (the ``moa`` space's ``mlp-starter`` start).

    Its gene/cell PCA steps are kept only where the data has ``g-`` / ``c-`` columns.
    """
    from automoa.config import PipelineConfig
    from automoa.spaces import bind_data, load_space, sample, start_params

    rows = int(train.trainable_mask.sum()) * 4 // 5
    space = bind_data(load_space("moa"), train.feature_names, rows, 0)
    start = next(s for s in space.starts if s.name == "mlp-starter")
    config = sample(optuna.trial.FixedTrial(start_params(space, start)), space)
    steps = tuple(
        step
        for step in config.preprocessing
        if step.name != "pca"
        or any(name.startswith(step.params["group"]) for name in train.feature_names)
    )
    return PipelineConfig(config.family, config.model_params, steps, config.loss)


def run_mlp_starter(task: BenchmarkTask, seed: int, cores: int) -> SystemRun:
    """The starter MLP, 5-fold models averaged on the test rows."""
    from automoa.search.objective import evaluate

    train = task.train
    folds = make_folds(train.Y, n_splits=5, seed=seed, groups=train.groups)
    with thread_limit(cores):
        result = evaluate(mlp_starter_config(train), train, folds, seed=seed, device="cpu")
    return SystemRun(finish_predictions(train, result.test_pred), float(result.cv_score))


def run_automoa(
    task: BenchmarkTask,
    seed: int,
    cores: int,
    budget_seconds: float,
    workdir: Path,
    space: str = "default",
) -> SystemRun:
    """``automoa.search`` on the training rows within the budget (the ensemble included)."""
    import pandas as pd

    from automoa.search.record import TrialRecord
    from automoa.search.study import resolve_location

    train = task.train
    started = datetime.now()
    with thread_limit(cores):
        outcome = api.search(
            train,
            budget=budget_seconds,
            space=space,
            workdir=workdir,
            study="bench",
            seed=seed,
            device="cpu",
        )
    if outcome.prior_only and outcome.prior_submission is not None:
        # No trial finished: the search's documented fallback is the prior's predictions.
        submission_file = outcome.prior_submission
    elif outcome.ensemble is None or outcome.ensemble.submission is None:
        raise RuntimeError("no ensemble and no prior submission within the budget")
    else:
        submission_file = outcome.ensemble.submission
    submission = pd.read_csv(submission_file, dtype={train.id_name: str})
    proba = submission.set_index(train.id_name).loc[train.test_ids].to_numpy(np.float64)

    # The incumbent (best CV so far) after each complete trial, scored later on the test rows.
    artifacts = resolve_location("bench", workdir).open_artifacts()
    complete = sorted(
        (t for t in outcome.study.trials if t.state == optuna.trial.TrialState.COMPLETE),
        key=lambda t: t.datetime_complete,
    )
    anytime, best = [], float("inf")
    for trial in complete:
        path = artifacts.local_path(TrialRecord.read(trial).test_artifact or "")
        if trial.value < best and path is not None:
            best = trial.value
            seconds = (trial.datetime_complete - started).total_seconds()
            anytime.append((seconds, finish_predictions(train, np.load(path, allow_pickle=False))))
    honest = None if outcome.ensemble is None else float(outcome.ensemble.honest_score)
    return SystemRun(finish_predictions(train, proba), honest, anytime)


def held_out_log_loss(task: BenchmarkTask, proba: np.ndarray) -> float:
    """The metric on the held-out rows."""
    return mean_columnwise_log_loss(task.Y_test, proba)
