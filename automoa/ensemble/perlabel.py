"""What the per-label logistic-regression stages share: :mod:`automoa.ensemble.stacking` and
:mod:`automoa.ensemble.crosslabel`.

Both fit one L2-regularised logistic regression per label on out-of-fold predictions, warm
started from the previous label's solution, and estimate their gain nested in the folds. This
module holds the solver settings, the checks of their common inputs, the warm-started
per-label fits and the nested (honest) loop over the folds.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np

from automoa.ensemble.checks import check_labels, check_mask, check_members, check_weights
from automoa.ensemble.selection import Ensemble
from automoa.exceptions import DataError
from automoa.metrics import mean_columnwise_log_loss

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

# Solver. Each label's design is tall and narrow (~20k rows, a few to m + 1 columns), where
# newton-cholesky (the same L2 objective as lbfgs, intercept unpenalised) converges in ~8
# iterations: a 24k x 206 x 10-member fit takes ~3 s against ~10 s for lbfgs at tol 1e-6. lbfgs
# also stops early at its default tol (sklearn averages the loss; with ~0.3% positives the
# gradient is small). At tol 1e-8 the coefficients are within ~1e-6 of the optimum, so a fit
# does not depend on the warm start it began from.
SOLVER = "newton-cholesky"
TOL = 1e-8
MAX_ITER = 100

#: A fitted stacker (the type of :attr:`HonestLevel2.stackers`).
S = TypeVar("S")
#: An honest estimate's class.
H = TypeVar("H", bound="HonestLevel2[Any]")


# --- checks ---------------------------------------------------------------------------------


def check_fit_inputs(
    member_preds: Sequence[np.ndarray],
    Y: np.ndarray,
    weights: Sequence[float],
    known_negative: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray]:
    """Validate a final fit's labels, members and weights, in that order.

    Returns:
        The bool labels, the known-negative mask (all False when None), the members and the
        weights normalised to sum 1.

    Raises:
        DataError: malformed labels, mask or members.
        ConfigError: bad weights.
    """
    Yb, kn = check_labels(Y, known_negative)
    members = check_members(member_preds, None, shape=Yb.shape)
    return Yb, kn, members, check_weights(weights, len(members))


def fitting_rows(rows: np.ndarray | None, kn: np.ndarray) -> np.ndarray:
    """The (n,) mask of the rows to fit on: ``rows`` (None: all) less the known-negative ones.

    Raises:
        DataError: a malformed ``rows`` mask.
    """
    return ~kn if rows is None else check_mask("rows", rows, kn.shape[0]) & ~kn


def fit_indices(fit_rows: np.ndarray) -> np.ndarray:
    """The indices of the rows in ``fit_rows``.

    Raises:
        DataError: no row to fit on.
    """
    idx = np.flatnonzero(fit_rows)
    if idx.size == 0:
        raise DataError("rows: no row to fit the stacker on (after excluding known-negative rows)")
    return idx


def check_predict_inputs(
    member_preds: Sequence[np.ndarray],
    n_members: int,
    n_labels: int,
    known_negative: np.ndarray | None,
) -> tuple[list[np.ndarray], np.ndarray | None]:
    """Validate a fitted stacker's members and known-negative mask at prediction.

    Returns:
        The members and the mask (None when not given).

    Raises:
        DataError: a wrong number of members, or a member or mask of the wrong shape or with
            values outside [0, 1].
    """
    members = check_members(member_preds, n_members, n_labels=n_labels)
    n = members[0].shape[0]
    kn = None if known_negative is None else check_mask("known_negative", known_negative, n)
    return members, kn


class PerLabelStacker(ABC):
    """A fitted per-label stacker: what :class:`automoa.ensemble.stacking.Stacker` and
    :class:`automoa.ensemble.crosslabel.CrossLabelStacker` share.

    Subclasses are frozen dataclasses with at least these fields.

    Attributes:
        coef: float64 (L, width) coefficients of each label's regression.
        weights: float64 (m,) blend weights of the members, summing to 1.
    """

    # Declared for type checkers only: a plain base class's annotations make no dataclass field.
    coef: np.ndarray
    weights: np.ndarray

    @property
    def n_members(self) -> int:
        """The number of members m."""
        return int(self.weights.shape[0])

    def predict(
        self, member_preds: Sequence[np.ndarray], known_negative: np.ndarray | None = None
    ) -> np.ndarray:
        """Stacked predictions.

        Args:
            member_preds: one (n, L) probability matrix per member, in member order (the order
                used at fitting), e.g. the members' test predictions.
            known_negative: optional (n,) boolean mask of rows predicted 0.

        Returns:
            float32 (n, L) probabilities in [0, 1]. Unfitted labels hold the blend, equal to
            :meth:`automoa.ensemble.Ensemble.blend` of the same members and weights.

        Raises:
            DataError: a wrong number of members, or a member or mask of the wrong shape or with
                values outside [0, 1].
        """
        members, kn = check_predict_inputs(
            member_preds, self.n_members, self.coef.shape[0], known_negative
        )
        return self.predict_validated(members, kn)

    @abstractmethod
    def predict_validated(self, members: Sequence[np.ndarray], kn: np.ndarray | None) -> np.ndarray:
        """:meth:`predict` of members and mask already validated."""


def set_frozen(obj: object, **values: Any) -> None:
    """Set the fields of a frozen dataclass from its ``__post_init__`` (checked copies)."""
    for name, value in values.items():
        object.__setattr__(obj, name, value)


# --- per-label fits -------------------------------------------------------------------------


class LabelRegressions:
    """Per-label logistic regressions, each warm started from the previous label's solution.

    A label's solution is a good start for the next (similar calibration), which saves about a
    third of the time. A fit that fails, or whose coefficients are not finite, leaves the label
    unfitted, and the next fit starts cold.

    Attributes:
        coef: float64 (L, width) coefficients (0 where the label is not fitted).
        intercept: float64 (L,) intercepts (0 where the label is not fitted).
        fitted: bool (L,) whether the label's regression was kept.
    """

    def __init__(self, n_labels: int, width: int, C: float, *, drop_unconverged: bool) -> None:
        """Start with no label fitted.

        Args:
            n_labels: the number of labels L.
            width: the number of features of each regression.
            C: inverse L2 regularisation strength (sklearn's ``C``).
            drop_unconverged: whether a fit that warns it did not converge is dropped (True),
                or kept, being still close to the optimum (False).
        """
        self.coef = np.zeros((n_labels, width))
        self.intercept = np.zeros(n_labels)
        self.fitted = np.zeros(n_labels, dtype=bool)
        self._C = C
        self._drop_unconverged = drop_unconverged
        self._model = self._new_model()

    def _new_model(self) -> LogisticRegression:
        # Imported here: sklearn takes a while to import and only fitting needs it.
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=self._C, solver=SOLVER, tol=TOL, max_iter=MAX_ITER, warm_start=True
        )

    def fit(self, label: int, X: np.ndarray, y: np.ndarray) -> None:
        """Fit label ``label``'s regression on the float64 design ``X`` and targets ``y``."""
        from sklearn.exceptions import ConvergenceWarning

        try:
            with warnings.catch_warnings(record=self._drop_unconverged) as caught:
                if self._drop_unconverged:
                    # Recorded, not shown: a fit that warns it did not converge is dropped (the
                    # label keeps the blend); other warnings (an ill-conditioned Hessian, after
                    # which sklearn falls back to lbfgs by itself) are harmless, and non-finite
                    # results are caught below.
                    warnings.simplefilter("always")
                else:
                    # A fit stopped at max_iter is still close to the optimum: keep it. An
                    # ill-conditioned Hessian (a LinAlgWarning, a RuntimeWarning) makes sklearn
                    # fall back to lbfgs by itself; non-finite results are caught below.
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    warnings.simplefilter("ignore", RuntimeWarning)
                self._model.fit(X, y)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            self._model = self._new_model()  # no warm start from a failed fit
            return
        converged = not self._drop_unconverged or not any(
            issubclass(w.category, ConvergenceWarning) for w in caught
        )
        model = self._model
        if converged and np.isfinite(model.coef_).all() and np.isfinite(model.intercept_).all():
            self.coef[label] = model.coef_[0]
            self.intercept[label] = model.intercept_[0]
            self.fitted[label] = True
        else:
            self._model = self._new_model()


# --- nested estimate ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class HonestLevel2(Generic[S]):
    """Out-of-fold estimate of a per-label level-2 stage.

    Attributes:
        score: the metric over all rows of :attr:`oof`.
        fold_scores: the metric of each fold's predictions on that fold's rows.
        oof: float32 (n, L) assembled held-out predictions: each fold's rows predicted by the
            stacker fitted without them (known-negative rows 0).
        folds: the fold labels, in the order of ``folds`` given.
        stackers: the stacker fitted without each fold's rows.
    """

    score: float
    fold_scores: tuple[float, ...]
    oof: np.ndarray
    folds: tuple[int, ...]
    stackers: tuple[S, ...]


def nested_estimate(
    result: type[H],
    Yb: np.ndarray,
    fold_of: np.ndarray,
    folds: tuple[int, ...],
    ensembles: Sequence[Ensemble],
    fit_fold: Callable[[Ensemble, np.ndarray, np.ndarray], Any],
) -> H:
    """Fit and score a stage fold by fold (validated inputs).

    Args:
        result: the estimate's class.
        Yb: (n, L) bool labels.
        fold_of: (n,) fold of each row.
        folds: the fold of each ensemble, checked against ``fold_of``.
        ensembles: ``ensembles[i]`` selected without the rows of fold ``folds[i]``.
        fit_fold: called with an ensemble, the (n,) mask of its fold's rows and the float32
            (n, L) out-of-fold matrix; fits the stacker without the fold's rows, writes the
            fold's predictions into the matrix and returns the stacker.

    Returns:
        The estimate, scored over all rows and fold by fold.
    """
    oof = np.empty(Yb.shape, dtype=np.float32)
    fold_scores, stackers = [], []
    for fold, ens in zip(folds, ensembles, strict=True):
        in_fold = fold_of == fold
        stackers.append(fit_fold(ens, in_fold, oof))
        fold_scores.append(mean_columnwise_log_loss(Yb[in_fold], oof[in_fold]))
    return result(
        score=mean_columnwise_log_loss(Yb, oof),
        fold_scores=tuple(fold_scores),
        oof=oof,
        folds=folds,
        stackers=tuple(stackers),
    )
