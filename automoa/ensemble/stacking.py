"""Level-2 stacking: per-label logistic regression on the ensemble members' predictions.

The last stage of the MoA winning solutions. For label l, the features are the logits of each
member's prediction for label l only (probabilities clipped to [1e-6, 1 - 1e-6]), so the
regression learns a per-label recalibration and reweighting of the members, with m + 1
parameters (m members and an intercept). It is fitted with L2-regularised
:class:`sklearn.linear_model.LogisticRegression` (newton-cholesky solver) on out-of-fold
predictions.

A label with too few positives (or negatives) among the fitting rows, or whose regression
fails, is not fitted and keeps the greedy blend of the members (the ensemble's weighted
average). Known-negative rows are never fitted on and are predicted 0.

:func:`honest_stacking` estimates the gain without fitting on the rows it scores: the fold
``folds[i]`` is predicted by a stacker fitted on the other folds with the members and weights
of ``ensembles[i]`` (as selected by :func:`automoa.ensemble.honest_evaluation` without it).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from automoa.ensemble.checks import (
    Candidates,
    check_fold_order,
    check_labels,
    check_level2_arrays,
    check_mask,
    check_members,
    check_probabilities,
    check_weights,
    fetch_candidate,
    logit,
)
from automoa.ensemble.selection import Ensemble
from automoa.exceptions import ConfigError, DataError
from automoa.folds import check_fold_labels
from automoa.metrics import mean_columnwise_log_loss

# Solver. Each label's design is tall and narrow (~20k rows, m + 1 columns), where
# newton-cholesky (the same L2 objective as lbfgs, intercept unpenalised) converges in ~8
# iterations: a 24k x 206 x 10-member fit takes ~3 s against ~10 s for lbfgs at tol 1e-6. lbfgs
# also stops early at its default tol (sklearn averages the loss; with ~0.3% positives the
# gradient is small). At tol 1e-8 the coefficients are within ~1e-6 of the optimum, so a fit
# does not depend on the warm start it began from.
_SOLVER = "newton-cholesky"
_TOL = 1e-8
_MAX_ITER = 100
#: Labels whose features are built together: (block, fitting rows, members) float64.
_LABEL_BLOCK = 16
#: Elements per row block in predict, to bound float64 temporaries.
_PREDICT_ELEMENTS = 1 << 16
_ARRAY_KEYS = ("coef", "intercept", "fitted", "weights")
#: What each label's regression reads: every member's logit, or the logit of the greedy blend
#: (per-label Platt scaling of the blend: two parameters, hard to overfit on rare labels).
FEATURES = ("members", "blend")


@dataclass(frozen=True, eq=False)
class Stacker:
    """A fitted per-label stacker.

    Attributes:
        coef: float64 (L, m) logistic-regression coefficients of the members' logits, or
            (L, 1) of the blend's logit when ``on_blend`` (0 where the label is not fitted).
        intercept: float64 (L,) intercepts (0 where the label is not fitted).
        fitted: bool (L,) whether the label is stacked; the others use the fallback blend.
        weights: float64 (m,) fallback blend weights of the members, summing to 1.
        on_blend: whether the regressions read the blend's logit instead of the members'.
    """

    coef: np.ndarray
    intercept: np.ndarray
    fitted: np.ndarray
    weights: np.ndarray
    on_blend: bool = False

    def __post_init__(self) -> None:
        on_blend = bool(self.on_blend)
        m = np.shape(self.weights)[0] if np.ndim(self.weights) == 1 else 0
        coef, intercept, fitted, weights = check_level2_arrays(
            "stacker", self.coef, self.intercept, self.fitted, self.weights, 1 if on_blend else m
        )
        object.__setattr__(self, "on_blend", on_blend)
        object.__setattr__(self, "coef", coef)
        object.__setattr__(self, "intercept", intercept)
        object.__setattr__(self, "fitted", fitted)
        object.__setattr__(self, "weights", weights)

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
            float32 (n, L) probabilities in [0, 1]. Unfitted labels hold the fallback blend,
            equal to :meth:`automoa.ensemble.Ensemble.blend` of the same members and weights.

        Raises:
            DataError: a wrong number of members, or a member or mask of the wrong shape or with
                values outside [0, 1].
        """
        members = check_members(member_preds, self.n_members, n_labels=self.coef.shape[0])
        n = members[0].shape[0]
        kn = None if known_negative is None else check_mask("known_negative", known_negative, n)
        return _predict(self, members, kn)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The stacker as named arrays (for ``np.savez``), restored by :meth:`from_arrays`."""
        arrays = {key: getattr(self, key).copy() for key in _ARRAY_KEYS}
        arrays["on_blend"] = np.array(self.on_blend)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> Stacker:
        """Rebuild a stacker from :meth:`to_arrays` output (e.g. a loaded ``.npz``).

        Raises:
            ConfigError: a missing key, or arrays of inconsistent shapes or bad values.
        """
        missing = [key for key in _ARRAY_KEYS if key not in arrays]
        if missing:
            raise ConfigError(f"stacker: missing array(s) {', '.join(missing)}")
        if "kind" in arrays:
            raise ConfigError(
                f"stacker: the arrays are of another model ({np.asarray(arrays['kind'])!s})"
            )
        on_blend = bool(np.asarray(arrays["on_blend"])) if "on_blend" in arrays else False
        return cls(**{key: np.asarray(arrays[key]) for key in _ARRAY_KEYS}, on_blend=on_blend)


@dataclass(frozen=True, eq=False)
class HonestStacking:
    """Out-of-fold estimate of stacking.

    Attributes:
        score: the metric over all rows of :attr:`oof`.
        fold_scores: the metric of each fold's stacked predictions on that fold's rows.
        oof: float32 (n, L) assembled held-out stacked predictions: each fold's rows predicted
            by the stacker fitted without them (known-negative rows 0).
        folds: the fold labels, in the order of ``folds`` given.
        stackers: the stacker fitted without each fold's rows.
    """

    score: float
    fold_scores: tuple[float, ...]
    oof: np.ndarray
    folds: tuple[int, ...]
    stackers: tuple[Stacker, ...]


def fit_stacker(
    member_preds: Sequence[np.ndarray],
    Y: np.ndarray,
    weights: Sequence[float],
    *,
    rows: np.ndarray | None = None,
    known_negative: np.ndarray | None = None,
    C: float = 1.0,
    min_positives: int = 5,
    features: str = "members",
) -> Stacker:
    """Fit a per-label logistic-regression stacker on out-of-fold predictions.

    Args:
        member_preds: one (n, L) out-of-fold probability matrix per member (arrays or
            memmaps; only the fitting rows of a block of labels are read at a time).
        Y: (n, L) 0/1 labels.
        weights: the members' blend weights (e.g. :attr:`Ensemble.weights`), used for the
            labels not fitted; normalised to sum 1.
        rows: optional (n,) boolean mask of the rows to fit on (None: all rows).
        known_negative: optional (n,) boolean mask of rows whose labels are all 0; never
            fitted on.
        C: inverse L2 regularisation strength of each regression (sklearn's ``C``).
        min_positives: a label is fitted only with at least this many positives (and this
            many negatives) among the fitting rows.
        features: ``"members"`` (each member's logit) or ``"blend"`` (the weighted blend's
            logit: per-label Platt scaling).

    Returns:
        The fitted :class:`Stacker`.

    Raises:
        DataError: malformed predictions, labels or masks, or no row to fit on.
        ConfigError: bad weights, ``C`` or ``min_positives``.
    """
    Yb, kn = check_labels(Y, known_negative)
    members = check_members(member_preds, None, shape=Yb.shape)
    w = check_weights(weights, len(members))
    C, min_positives = _check_options(C, min_positives)
    on_blend = _check_features(features)
    fit_rows = ~kn if rows is None else check_mask("rows", rows, Yb.shape[0]) & ~kn
    return _fit(members, Yb, w, fit_rows, C, min_positives, on_blend)


def honest_stacking(
    oofs: Candidates,
    Y: np.ndarray,
    fold_of: np.ndarray,
    ensembles: Sequence[Ensemble],
    folds: Sequence[int],
    *,
    known_negative: np.ndarray | None = None,
    C: float = 1.0,
    min_positives: int = 5,
    features: str = "members",
) -> HonestStacking:
    """Score stacking without fitting it on the rows it scores (nested in the folds).

    Args:
        oofs: the candidates given to ensemble selection (arrays, memmaps or loaders); only
            each ensemble's members are fetched.
        Y: (n, L) 0/1 labels.
        fold_of: (n,) integer fold of each row.
        ensembles: ``ensembles[i]`` selected without the rows of fold ``folds[i]`` (e.g.
            :attr:`HonestResult.ensembles`).
        folds: the fold of each ensemble (e.g. :attr:`HonestResult.folds`); every fold of
            ``fold_of`` exactly once.
        known_negative: optional (n,) boolean mask of rows predicted 0 and never fitted on.
        C: as for :func:`fit_stacker`.
        min_positives: as for :func:`fit_stacker`.
        features: as for :func:`fit_stacker`.

    Returns:
        A :class:`HonestStacking`.

    Raises:
        DataError: malformed labels, masks, folds or members, or a missing member.
        ConfigError: ``folds`` not matching ``ensembles`` or ``fold_of``, or bad options.
    """
    Yb, kn = check_labels(Y, known_negative)
    fold_of, present = check_fold_labels(fold_of, Yb.shape[0])
    C, min_positives = _check_options(C, min_positives)
    on_blend = _check_features(features)
    folds = check_fold_order(folds, len(ensembles), present)
    oof = np.empty(Yb.shape, dtype=np.float32)
    fold_scores, stackers = [], []
    for fold, ens in zip(folds, ensembles, strict=True):
        members = [
            check_probabilities(f"candidate {i}", fetch_candidate(oofs, i), Yb.shape)
            for i in ens.members
        ]
        in_fold = fold_of == fold
        weights = check_weights(ens.weights, len(members))
        stacker = _fit(members, Yb, weights, ~in_fold & ~kn, C, min_positives, on_blend)
        oof[in_fold] = _predict(stacker, [p[in_fold] for p in members], kn[in_fold])
        fold_scores.append(mean_columnwise_log_loss(Yb[in_fold], oof[in_fold]))
        stackers.append(stacker)
        del members  # loaded members need not outlive their fold
    return HonestStacking(
        score=mean_columnwise_log_loss(Yb, oof),
        fold_scores=tuple(fold_scores),
        oof=oof,
        folds=folds,
        stackers=tuple(stackers),
    )


# --- fitting and prediction -----------------------------------------------------------------


def _fit(
    members: list[np.ndarray],
    Yb: np.ndarray,
    weights: np.ndarray,
    fit_rows: np.ndarray,
    C: float,
    min_positives: int,
    on_blend: bool = False,
) -> Stacker:
    """Fit on the rows in ``fit_rows`` (validated inputs, known-negative rows excluded)."""
    # Imported here: sklearn takes a while to import and only fitting needs it.
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    idx = np.flatnonzero(fit_rows)
    if idx.size == 0:
        raise DataError("rows: no row to fit the stacker on (after excluding known-negative rows)")
    n_labels, m = Yb.shape[1], len(members)
    Y_fit = np.ascontiguousarray(Yb[idx].T)  # (L, n_fit): each label's targets contiguous
    n_pos = Y_fit.sum(axis=1)
    to_fit = np.flatnonzero((n_pos >= min_positives) & (idx.size - n_pos >= min_positives))
    width = 1 if on_blend else m
    coef = np.zeros((n_labels, width))
    intercept = np.zeros(n_labels)
    fitted = np.zeros(n_labels, dtype=bool)

    # Warm start: a label's solution is a good start for the next (similar calibration),
    # which saves about a third of the time.
    def new_model() -> LogisticRegression:
        return LogisticRegression(
            C=C, solver=_SOLVER, tol=_TOL, max_iter=_MAX_ITER, warm_start=True
        )

    model = new_model()
    for start in range(0, to_fit.size, _LABEL_BLOCK):
        labels = to_fit[start : start + _LABEL_BLOCK]
        # (labels, rows, members) so that each label's design matrix is a C-contiguous slice;
        # only these columns of the fitting rows are read from each member.
        features = np.empty((labels.size, idx.size, width))
        if on_blend:
            blend = np.zeros((idx.size, labels.size))
            for j, p in enumerate(members):
                blend += weights[j] * p[np.ix_(idx, labels)].astype(np.float64)
            features[:, :, 0] = logit(blend).T
        else:
            for j, p in enumerate(members):
                features[:, :, j] = logit(p[np.ix_(idx, labels)]).T
        for X, label in zip(features, labels, strict=True):
            try:
                with warnings.catch_warnings():
                    # A fit stopped at max_iter is still close to the optimum: keep it. An
                    # ill-conditioned Hessian (a LinAlgWarning, a RuntimeWarning) makes sklearn
                    # fall back to lbfgs by itself; non-finite results are caught below.
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    warnings.simplefilter("ignore", RuntimeWarning)
                    model.fit(X, Y_fit[label])
            except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                model = new_model()  # no warm start from a failed fit
                continue
            if np.isfinite(model.coef_).all() and np.isfinite(model.intercept_).all():
                coef[label] = model.coef_[0]
                intercept[label] = model.intercept_[0]
                fitted[label] = True
            else:
                model = new_model()
    return Stacker(
        coef=coef, intercept=intercept, fitted=fitted, weights=weights, on_blend=on_blend
    )


def _predict(stacker: Stacker, members: Sequence[np.ndarray], kn: np.ndarray | None) -> np.ndarray:
    """Stacked predictions of validated members, row block by row block."""
    n, n_labels = members[0].shape
    out = np.empty((n, n_labels), dtype=np.float32)
    step = max(1, _PREDICT_ELEMENTS // n_labels)
    any_fitted = bool(stacker.fitted.any())
    for start in range(0, n, step):
        block = slice(start, min(n, start + step))
        blend = np.zeros((block.stop - start, n_labels))
        z = np.broadcast_to(stacker.intercept, blend.shape).copy()
        for j, p in enumerate(members):
            chunk = p[block].astype(np.float64)
            # Same operations and order as Ensemble.blend, so the fallback matches it exactly.
            blend += stacker.weights[j] * chunk
            if any_fitted and not stacker.on_blend:
                z += stacker.coef[:, j] * logit(chunk)
        if any_fitted and stacker.on_blend:
            z += stacker.coef[:, 0] * logit(blend)
        # sigmoid(z) = exp(-log(1 + exp(-z))): no overflow for any z.
        stacked = np.exp(-np.logaddexp(0.0, -z))
        out[block] = np.where(stacker.fitted, stacked, blend)
    if kn is not None:
        out[kn] = 0.0
    return out


# --- validation -----------------------------------------------------------------------------


def _check_features(features: str) -> bool:
    """Validate ``features``; True for ``"blend"``."""
    if features not in FEATURES:
        raise ConfigError(f"features: expected one of {', '.join(FEATURES)}, got {features!r}")
    return features == "blend"


def _check_options(C: float, min_positives: int) -> tuple[float, int]:
    if isinstance(C, bool) or not isinstance(C, (int, float, np.number)) or not 0 < C < np.inf:
        raise ConfigError(f"C: expected a positive finite number, got {C!r}")
    if (
        isinstance(min_positives, bool)
        or not isinstance(min_positives, (int, np.integer))
        or min_positives < 1
    ):
        raise ConfigError(f"min_positives: expected an integer >= 1, got {min_positives!r}")
    return float(C), int(min_positives)
