"""A scikit-learn estimator around the search: fit runs it, predict applies its ensemble."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from automoa import api
from automoa.bundle import load as load_bundle
from automoa.data import from_arrays
from automoa.data import validation as v
from automoa.data.arrays import TARGET_PREFIX, as_frame
from automoa.exceptions import StudyError
from automoa.metrics import mean_columnwise_log_loss
from automoa.search.settings import TrialEvent

#: The checks of ``sklearn.utils.estimator_checks`` this estimator does not pass, and why: the
#: targets of a multi-label indicator estimator are 0/1 columns, so checks that fit arbitrary
#: class labels or expect one 1-D output do not apply.
SKLEARN_CHECKS_NOT_PASSED = {
    "check_classifiers_train": "asserts 1-D predictions; predict returns (n_samples, n_labels) "
    "even for one label",
    "check_classifiers_classes": "fits string class labels; targets are 0/1 indicator columns",
    "check_estimators_dtypes": "fits labels 1 and 2; targets are 0/1 indicator columns",
    "check_classifier_data_not_an_array": "fits labels 1 and 2; targets are 0/1 indicator columns",
    "check_fit2d_1feature": "fits labels 1 and 2; targets are 0/1 indicator columns",
    "check_dtype_object": "expects numpy's TypeError for a dict in X; automoa raises its "
    "DataError (a ValueError naming the column)",
}


@contextlib.contextmanager
def _run_directory(workdir: str | Path | None) -> Iterator[Path]:
    """The given work directory (kept), or a temporary one removed afterwards."""
    if workdir is not None:
        yield Path(workdir)
        return
    with tempfile.TemporaryDirectory(prefix="automoa-fit-") as temporary:
        yield Path(temporary)


def _ndim(values: Any) -> int:
    """Dimensions of an array-like (without numpy's dispatch, which array wrappers may refuse)."""
    return int(values.ndim) if hasattr(values, "ndim") else np.asarray(values).ndim


def _print_trial(event: TrialEvent) -> None:
    value = "" if event.value is None else f" {event.value:.5f}"
    best = "" if event.best_value is None else f" (best {event.best_value:.5f})"
    print(f"trial {event.number} {event.family} {event.state}{value}{best}", flush=True)


class AutoMoAClassifier(ClassifierMixin, BaseEstimator):
    """Multi-label classifier whose ``fit`` runs an automoa search and keeps its ensemble.

    ``fit(X, y)`` searches pipelines by K-fold CV log loss within ``budget``, builds the
    greedy ensemble of the trials and keeps it in memory; ``predict_proba`` applies it. The
    estimator follows scikit-learn's conventions: ``__init__`` only stores its parameters
    (``get_params``, ``set_params`` and ``clone`` work), fitted attributes end in ``_``, and it
    can sit in a ``Pipeline`` or be given to ``cross_val_score``.

    Targets are a multi-label indicator matrix: ``y`` has shape ``(n_samples, n_labels)`` with
    0/1 values (a 1-D ``y`` is refused: pass ``y.reshape(-1, 1)`` for one label).
    ``predict_proba`` returns one ``(n_samples, n_labels)`` array of positive-class
    probabilities, not scikit-learn's multi-output form (a list of ``(n_samples, 2)`` arrays,
    one per label).

    Args:
        budget: wall clock of the search and its ensemble (``90s``, ``10m``, ``6h``, seconds).
        space: a shipped search space (``default``, ``fast``, ``moa``) or a YAML path.
        folds: CV folds the trials are scored on.
        seed: the search's seed: the same seed and data give the same trials and ensemble.
        max_trials: stop after this many trials (the budget still applies).
        device: ``auto``, ``cpu`` or ``cuda`` for the neural-network families.
        workers: worker processes sharing the search (cores are split between them).
        workdir: where the search's study, artifacts and exported ensemble are kept; by
            default a temporary directory removed after ``fit``. With a directory, fitting
            again on the same data resumes that study (as ``automoa search`` does), and other
            data is refused.
        verbose: print one line per trial.

    Attributes:
        model_: the fitted ensemble (:class:`automoa.ExportedModel`, as :func:`automoa.load`
            returns it).
        leaderboard_: every trial of the search (rank, trial, family, CV log loss, ...).
        ensemble_: the ensemble's members, weights and scores.
        best_score_: the best single trial's CV log loss.
        cv_log_loss_: the ensemble's honest CV log loss (each stage fitted without the fold
            it scores).
        classes_: ``0 .. n_labels - 1`` (label indices, as scikit-learn's multi-label
            estimators have).
        target_names_: the label names (``y``'s columns, or ``target_0``, ...).
        n_features_in_: number of feature columns seen in ``fit``.
        feature_names_in_: their names, when ``X`` was a DataFrame with string column names.
        study_name_: the study's name in ``workdir`` (``None`` when it was temporary).
    """

    def __init__(
        self,
        budget: str | float = "10m",
        space: str = "default",
        folds: int = 5,
        seed: int = 0,
        *,
        max_trials: int | None = None,
        device: str = "auto",
        workers: int = 1,
        workdir: str | Path | None = None,
        verbose: bool = False,
    ) -> None:
        self.budget = budget
        self.space = space
        self.folds = folds
        self.seed = seed
        self.max_trials = max_trials
        self.device = device
        self.workers = workers
        self.workdir = workdir
        self.verbose = verbose

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # each label is binary
        tags.classifier_tags.multi_label = True
        tags.classifier_tags.poor_score = True  # tiny budgets in checks
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = False  # Y is (n_samples, n_labels)
        tags.input_tags.allow_nan = True  # missing values are imputed in every pipeline
        return tags

    def fit(
        self,
        X: Any,
        y: Any,
        *,
        groups: Any = None,
        aux_targets: Any = None,
        known_negative: Any = None,
    ) -> AutoMoAClassifier:
        """Search pipelines for ``(X, y)`` within the budget and keep the final ensemble.

        Args:
            X: (n_samples, n_features) features: a DataFrame (MoA's ``cp_type``, ``cp_time``
                and ``cp_dose`` are encoded as the file loader does) or a numeric array.
            y: (n_samples, n_labels) 0/1 indicator matrix (DataFrame or array); named ``y``
                as scikit-learn's tools pass it.
            groups: optional group label per row (e.g. MoA drug ids): group-aware folds.
            aux_targets: optional (n_samples, A) 0/1 auxiliary targets, trained on, not scored.
            known_negative: optional booleans: rows whose labels are all 0 by construction.

        Returns:
            self.

        Raises:
            DataError: invalid X or y (a ``ValueError``).
            ConfigError: an invalid parameter (a ``ValueError``).
            StudyError: no trial completed within the budget.
        """
        if y is None:
            raise v.data_error(
                "y: AutoMoAClassifier requires y to be passed, but the target y is None; "
                "expected a 0/1 indicator matrix (n_samples, n_labels)"
            )
        dataset = from_arrays(
            X, y, groups=groups, aux_targets=aux_targets, known_negative=known_negative
        )
        if _ndim(y) == 1:
            raise v.data_error(
                "y: got 1-D targets, but AutoMoAClassifier is a multi-label classifier: "
                "expected a 0/1 indicator matrix (n_samples, n_labels); for one label pass "
                "y.reshape(-1, 1)"
            )
        if isinstance(self.folds, int) and dataset.n_rows < self.folds:
            raise v.data_error(
                f"X: {dataset.n_rows} sample(s), but folds={self.folds} needs at least {self.folds}"
            )
        validate_data(self, X, reset=True, skip_check_array=True)  # n_features_in_, names
        with _run_directory(self.workdir) as workdir:
            result = api.search(
                dataset,
                budget=self.budget,
                space=self.space,
                folds=self.folds,
                seed=self.seed,
                max_trials=self.max_trials,
                device=self.device,
                workers=self.workers,
                workdir=workdir,
                keep_models=True,  # the ensemble's fold models are shipped, not re-trained
                on_trial=_print_trial if self.verbose else None,
            )
            if result.stopped_by == "interrupted":
                raise KeyboardInterrupt
            if result.best_trial is None:
                raise StudyError(
                    f"AutoMoAClassifier: no trial completed within budget={self.budget!r}; "
                    "give a larger budget"
                )
            bundle = Path(tempfile.mkdtemp(dir=workdir, prefix="model-"))
            result.export(bundle)
            self.model_ = load_bundle(bundle)  # read into memory: the directory may go
            self.leaderboard_ = result.leaderboard()
            self.ensemble_ = result.ensemble
            self.best_score_ = result.best_score
            self.study_name_ = result.study.study_name if self.workdir is not None else None
        self.cv_log_loss_ = self.ensemble_.honest_score
        self.classes_ = np.arange(dataset.n_labels)
        self.target_names_ = np.asarray(dataset.target_names, dtype=object)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Positive-class probability of every label.

        Args:
            X: features with the columns of ``fit`` (a DataFrame's columns by name, in the
                same order; an array's by position).

        Returns:
            float32 array of shape ``(n_samples, n_labels)`` (one column per label, not
            scikit-learn's list of per-label ``(n_samples, 2)`` arrays).

        Raises:
            NotFittedError: before ``fit``.
            ValueError: other columns than in ``fit``, or invalid values.
        """
        check_is_fitted(self)
        if _ndim(X) == 1:
            raise v.data_error(
                "X: expected a 2-D array (n_samples, n_features), got 1-D; Reshape your data "
                "with X.reshape(1, -1) for one sample"
            )
        validate_data(self, X, reset=False, skip_check_array=True)
        return self.model_.predict_proba(X)

    def predict(self, X: Any, threshold: float = 0.5) -> np.ndarray:
        """0/1 labels: :meth:`predict_proba` at or above ``threshold``, shape (n, n_labels)."""
        return (self.predict_proba(X) >= threshold).astype(np.int64)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Negative mean column-wise log loss (higher is better, as scikit-learn expects).

        Args:
            X: features.
            y: (n_samples, n_labels) 0/1 labels.
            sample_weight: optional row weights.
        """
        proba = self.predict_proba(X)
        frame = as_frame(y, "y", TARGET_PREFIX, one_column_ok=True)
        if frame.shape != proba.shape:
            raise v.data_error(
                f"y: shape {frame.shape}; expected {proba.shape} (rows of X x labels of fit)"
            )
        truth = v.binary_matrix(frame, "y", np.arange(len(frame)).astype(str))
        return -mean_columnwise_log_loss(truth, proba, sample_weight=sample_weight)
