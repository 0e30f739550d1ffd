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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from automoa.ensemble.checks import (
    Candidates,
    check_C,
    check_fold_order,
    check_integer,
    check_labels,
    check_level2_arrays,
    check_probabilities,
    check_weights,
    fetch_candidate,
    logit,
)
from automoa.ensemble.perlabel import (
    HonestLevel2,
    LabelRegressions,
    PerLabelStacker,
    check_fit_inputs,
    fit_indices,
    fitting_rows,
    nested_estimate,
    set_frozen,
)
from automoa.ensemble.selection import Ensemble
from automoa.exceptions import ConfigError
from automoa.folds import check_fold_labels

# The solver and its settings are automoa.ensemble.perlabel's.
#: Labels whose features are built together: (block, fitting rows, members) float64.
_LABEL_BLOCK = 16
#: Elements per row block in predict, to bound float64 temporaries.
_PREDICT_ELEMENTS = 1 << 16
_ARRAY_KEYS = ("coef", "intercept", "fitted", "weights")
#: What each label's regression reads: every member's logit, or the logit of the greedy blend
#: (per-label Platt scaling of the blend: two parameters, hard to overfit on rare labels).
FEATURES = ("members", "blend")


@dataclass(frozen=True, eq=False)
class Stacker(PerLabelStacker):
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
        set_frozen(
            self, on_blend=on_blend, coef=coef, intercept=intercept, fitted=fitted, weights=weights
        )

    def predict_validated(self, members: Sequence[np.ndarray], kn: np.ndarray | None) -> np.ndarray:
        """:meth:`predict` of members and mask already validated."""
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
class HonestStacking(HonestLevel2[Stacker]):
    """Out-of-fold estimate of stacking (the fields of
    :class:`automoa.ensemble.perlabel.HonestLevel2`, one :class:`Stacker` per fold)."""


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
    Yb, kn, members, w = check_fit_inputs(member_preds, Y, weights, known_negative)
    C, min_positives, on_blend = _check_options(C, min_positives, features)
    return _fit(members, Yb, w, fitting_rows(rows, kn), C, min_positives, on_blend)


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
    C, min_positives, on_blend = _check_options(C, min_positives, features)
    folds = check_fold_order(folds, len(ensembles), present)

    def fit_fold(ens: Ensemble, in_fold: np.ndarray, oof: np.ndarray) -> Stacker:
        # The loaded members do not outlive their fold.
        members = [
            check_probabilities(f"candidate {i}", fetch_candidate(oofs, i), Yb.shape)
            for i in ens.members
        ]
        weights = check_weights(ens.weights, len(members))
        stacker = _fit(members, Yb, weights, ~in_fold & ~kn, C, min_positives, on_blend)
        oof[in_fold] = _predict(stacker, [p[in_fold] for p in members], kn[in_fold])
        return stacker

    return nested_estimate(HonestStacking, Yb, fold_of, folds, ensembles, fit_fold)


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
    idx = fit_indices(fit_rows)
    n_labels, m = Yb.shape[1], len(members)
    Y_fit = np.ascontiguousarray(Yb[idx].T)  # (L, n_fit): each label's targets contiguous
    n_pos = Y_fit.sum(axis=1)
    to_fit = np.flatnonzero((n_pos >= min_positives) & (idx.size - n_pos >= min_positives))
    width = 1 if on_blend else m
    # A fit stopped at max_iter is still close to the optimum: kept.
    regressions = LabelRegressions(n_labels, width, C, drop_unconverged=False)
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
            regressions.fit(label, X, Y_fit[label])
    return Stacker(
        coef=regressions.coef,
        intercept=regressions.intercept,
        fitted=regressions.fitted,
        weights=weights,
        on_blend=on_blend,
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


def _check_options(C: float, min_positives: int, features: str) -> tuple[float, int, bool]:
    """Validate the options, in this order; ``on_blend`` is True for ``features="blend"``."""
    C, min_positives = check_C(C), check_integer("min_positives", min_positives, 1)
    if features not in FEATURES:
        raise ConfigError(f"features: expected one of {', '.join(FEATURES)}, got {features!r}")
    return C, min_positives, features == "blend"
