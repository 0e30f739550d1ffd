"""Cross-label level-2 stage: per-label logistic regression on the blend of related labels.

The last stage of the 1st-place MoA solution saw every label's prediction at once. Here, for
label l, the features are the logit of the members' weighted blend for label l itself and the
logits of the blend for the ``n_neighbours`` other labels most correlated with label l
(probabilities clipped to [LOGIT_EPS, 1 - LOGIT_EPS]), so a label can borrow the signal of a
label whose prediction tells it more than its own (e.g. targets of the same pathway). Each
regression has 2 + k parameters and is fitted with L2-regularised
:class:`sklearn.linear_model.LogisticRegression` (newton-cholesky solver, intercept
unpenalised) on out-of-fold predictions.

Neighbours are chosen on the fitting rows only: the k labels j != l with the largest absolute
Pearson correlation between ``Y[:, l]`` and the logit of the blend for label j (exact ties go to
the lower index; a constant column has correlation 0). k is ``n_neighbours`` capped at L - 1: a
single label has no neighbour, and its regression is Platt scaling of the blend.

A label with too few positives (or negatives) among the fitting rows, or whose regression fails
or warns that it did not converge, is not fitted and keeps the blend of the members (the
ensemble's weighted average). Known-negative rows are never fitted on and are predicted 0.

:func:`honest_cross_label` estimates the gain without fitting on the rows it scores: the fold
``folds[i]`` is predicted by a stacker fitted (neighbours included) on the other folds with the
members and weights of ``ensembles[i]``.

Memory: the stage reads the members only through their blend, accumulated member by member in
row blocks, so no (n, L, m) array is built; each regression's design is (rows, 1 + k) float64.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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

#: The ``kind`` array of :meth:`CrossLabelStacker.to_arrays`.
KIND = "cross_label"

# The solver and its settings are automoa.ensemble.perlabel's, as for stacking.
#: Elements per row block when blending, taking logits and predicting (bounds float64
#: temporaries).
_BLOCK_ELEMENTS = 1 << 16
_ARRAY_KEYS = ("neighbours", "coef", "intercept", "fitted", "weights")


@dataclass(frozen=True, eq=False)
class CrossLabelStacker(PerLabelStacker):
    """A fitted cross-label stacker.

    Attributes:
        neighbours: int64 (L, k) the labels whose blend logits each label's regression reads,
            most correlated first; never the label itself.
        coef: float64 (L, 1 + k) logistic-regression coefficients: column 0 of the label's own
            blend logit, then one per neighbour in the order of :attr:`neighbours` (0 where the
            label is not fitted).
        intercept: float64 (L,) intercepts (0 where the label is not fitted).
        fitted: bool (L,) whether the label is stacked; the others keep the blend.
        weights: float64 (m,) blend weights of the members, non-negative, summing to 1.
    """

    neighbours: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    fitted: np.ndarray
    weights: np.ndarray

    def __post_init__(self) -> None:
        width = np.shape(self.coef)[-1] if np.ndim(self.coef) == 2 else 0
        coef, intercept, fitted, weights = check_level2_arrays(
            "cross-label stacker", self.coef, self.intercept, self.fitted, self.weights, width
        )
        if width < 1:
            raise ConfigError(
                f"cross-label stacker coef: expected a non-empty (L, 1 + k) matrix, got "
                f"{coef.shape}"
            )
        neighbours = _frozen_neighbours(self.neighbours, coef.shape[0], width - 1)
        set_frozen(
            self,
            neighbours=neighbours,
            coef=coef,
            intercept=intercept,
            fitted=fitted,
            weights=weights,
        )

    def predict_validated(self, members: Sequence[np.ndarray], kn: np.ndarray | None) -> np.ndarray:
        """:meth:`predict` of members and mask already validated."""
        n, n_labels = members[0].shape
        out = np.empty((n, n_labels), dtype=np.float32)
        for block in _row_blocks(n, n_labels):
            rows = np.arange(block.start, block.stop)
            out[block] = _stack(self, _blend(members, self.weights, rows))
        if kn is not None:
            out[kn] = 0.0
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The stacker as named arrays (for ``np.savez``), restored by :meth:`from_arrays`."""
        arrays = {key: getattr(self, key).copy() for key in _ARRAY_KEYS}
        arrays["kind"] = np.array(KIND)
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> CrossLabelStacker:
        """Rebuild a stacker from :meth:`to_arrays` output (e.g. a loaded ``.npz``).

        Raises:
            ConfigError: a missing key, a ``kind`` other than ``"cross_label"``, or arrays of
                inconsistent shapes or bad values.
        """
        missing = [key for key in (*_ARRAY_KEYS, "kind") if key not in arrays]
        if missing:
            raise ConfigError(f"cross-label stacker: missing array(s) {', '.join(missing)}")
        kind = np.asarray(arrays["kind"])
        if kind.ndim != 0 or kind.dtype.kind != "U" or kind.item() != KIND:
            raise ConfigError(
                f"cross-label stacker kind: expected {KIND!r}, got {kind.tolist()!r} "
                f"({kind.dtype} of shape {kind.shape})"
            )
        return cls(**{key: np.asarray(arrays[key]) for key in _ARRAY_KEYS})


@dataclass(frozen=True, eq=False)
class HonestCrossLabel(HonestLevel2[CrossLabelStacker]):
    """Out-of-fold estimate of the cross-label stage (the fields of
    :class:`automoa.ensemble.perlabel.HonestLevel2`, one :class:`CrossLabelStacker` per fold)."""


def fit_cross_label(
    member_preds: Sequence[np.ndarray],
    Y: np.ndarray,
    weights: Sequence[float],
    *,
    rows: np.ndarray | None = None,
    known_negative: np.ndarray | None = None,
    n_neighbours: int = 5,
    C: float = 1.0,
    min_positives: int = 5,
) -> CrossLabelStacker:
    """Fit a cross-label stacker on out-of-fold predictions.

    Args:
        member_preds: one (n, L) out-of-fold probability matrix per member (arrays or
            memmaps; only the fitting rows are read, one member and row block at a time).
        Y: (n, L) 0/1 labels.
        weights: the members' blend weights (e.g. :attr:`Ensemble.weights`); normalised to
            sum 1.
        rows: optional (n,) boolean mask of the rows to fit on, neighbour choice included
            (None: all rows).
        known_negative: optional (n,) boolean mask of rows whose labels are all 0; never
            fitted on.
        n_neighbours: the other labels each regression reads (capped at L - 1).
        C: inverse L2 regularisation strength of each regression (sklearn's ``C``).
        min_positives: a label is fitted only with at least this many positives (and this
            many negatives) among the fitting rows.

    Returns:
        The fitted :class:`CrossLabelStacker`.

    Raises:
        DataError: malformed predictions, labels or masks, or no row to fit on.
        ConfigError: bad weights, ``n_neighbours``, ``C`` or ``min_positives``.
    """
    Yb, kn, members, w = check_fit_inputs(member_preds, Y, weights, known_negative)
    n_neighbours, C, min_positives = _check_options(n_neighbours, C, min_positives)
    idx = fit_indices(fitting_rows(rows, kn))
    return _fit(_blend(members, w, idx), Yb[idx], w, n_neighbours, C, min_positives)


def honest_cross_label(
    oofs: Candidates,
    Y: np.ndarray,
    fold_of: np.ndarray,
    ensembles: Sequence[Ensemble],
    folds: Sequence[int],
    *,
    known_negative: np.ndarray | None = None,
    n_neighbours: int = 5,
    C: float = 1.0,
    min_positives: int = 5,
) -> HonestCrossLabel:
    """Score the cross-label stage without fitting it on the rows it scores.

    Args:
        oofs: the candidates given to ensemble selection (arrays, memmaps or loaders); only
            each ensemble's members are fetched, one at a time.
        Y: (n, L) 0/1 labels.
        fold_of: (n,) integer fold of each row.
        ensembles: ``ensembles[i]`` selected without the rows of fold ``folds[i]`` (e.g.
            :attr:`HonestResult.ensembles`).
        folds: the fold of each ensemble (e.g. :attr:`HonestResult.folds`); every fold of
            ``fold_of`` exactly once.
        known_negative: optional (n,) boolean mask of rows predicted 0 and never fitted on.
        n_neighbours: as for :func:`fit_cross_label`.
        C: as for :func:`fit_cross_label`.
        min_positives: as for :func:`fit_cross_label`.

    Returns:
        A :class:`HonestCrossLabel`.

    Raises:
        DataError: malformed labels, masks, folds or members, or a missing member.
        ConfigError: ``folds`` not matching ``ensembles`` or ``fold_of``, or bad options.
    """
    Yb, kn = check_labels(Y, known_negative)
    fold_of, present = check_fold_labels(fold_of, Yb.shape[0])
    n_neighbours, C, min_positives = _check_options(n_neighbours, C, min_positives)
    folds = check_fold_order(folds, len(ensembles), present)

    def fit_fold(ens: Ensemble, in_fold: np.ndarray, oof: np.ndarray) -> CrossLabelStacker:
        weights = check_weights(ens.weights, len(ens.members))
        # The blend of every row, one member in memory at a time.
        blend = np.zeros(Yb.shape)
        for i, w in zip(ens.members, weights, strict=True):
            member = check_probabilities(f"candidate {i}", fetch_candidate(oofs, i), Yb.shape)
            _accumulate(blend, w, member, None)
            del member
        idx = fit_indices(~in_fold & ~kn)
        stacker = _fit(blend[idx], Yb[idx], weights, n_neighbours, C, min_positives)
        held = np.flatnonzero(in_fold)
        for start in range(0, held.size, _block_rows(Yb.shape[1])):
            part = held[start : start + _block_rows(Yb.shape[1])]
            oof[part] = _stack(stacker, blend[part])
        oof[in_fold & kn] = 0.0
        return stacker

    return nested_estimate(HonestCrossLabel, Yb, fold_of, folds, ensembles, fit_fold)


# --- blending, fitting and prediction -------------------------------------------------------


def _block_rows(n_labels: int) -> int:
    return max(1, _BLOCK_ELEMENTS // n_labels)


def _row_blocks(n: int, n_labels: int) -> list[slice]:
    step = _block_rows(n_labels)
    return [slice(start, min(n, start + step)) for start in range(0, n, step)]


def _accumulate(acc: np.ndarray, w: float, member: np.ndarray, idx: np.ndarray | None) -> None:
    """``acc += w * member[idx]`` in float64, row block by row block (idx None: all rows).

    The operations and their order are those of :meth:`Ensemble.blend`, so the blend of
    unfitted labels equals it bit for bit.
    """
    for part in _row_blocks(acc.shape[0], acc.shape[1]):
        source = part if idx is None else idx[part]
        acc[part] += w * member[source].astype(np.float64)


def _blend(members: Sequence[np.ndarray], weights: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """float64 (len(idx), L) weighted average of the members' rows ``idx``."""
    acc = np.zeros((idx.size, members[0].shape[1]))
    for w, member in zip(weights, members, strict=True):
        _accumulate(acc, w, member, idx)
    return acc


def _stack(stacker: CrossLabelStacker, blend: np.ndarray) -> np.ndarray:
    """float64 predictions of rows whose float64 (rows, L) blend is given."""
    if not stacker.fitted.any():
        return blend
    Z = logit(blend)
    z = stacker.intercept + stacker.coef[:, 0] * Z
    for t in range(stacker.neighbours.shape[1]):
        z += stacker.coef[:, 1 + t] * Z[:, stacker.neighbours[:, t]]
    # sigmoid(z) = exp(-log(1 + exp(-z))): no overflow for any z.
    stacked = np.exp(-np.logaddexp(0.0, -z))
    return np.where(stacker.fitted, stacked, blend)


def _choose_neighbours(Z: np.ndarray, Y_fit: np.ndarray, n_pos: np.ndarray, k: int) -> np.ndarray:
    """int64 (L, k): for each label, the k other labels whose blend logit (a column of ``Z``)
    is most correlated (absolute Pearson) with its labels over the fitting rows."""
    n_fit, n_labels = Z.shape
    if k == 0:
        return np.zeros((n_labels, 0), dtype=np.int64)
    z_mean = Z.mean(axis=0)
    y_mean = n_pos / n_fit
    cross = np.zeros((n_labels, n_labels))  # [l, j]: sum over rows of (y_l - mean)(z_j - mean)
    z_ss = np.zeros(n_labels)
    for part in _row_blocks(n_fit, n_labels):
        Zc = Z[part] - z_mean
        cross += (Y_fit[part] - y_mean).T @ Zc
        z_ss += np.einsum("ij,ij->j", Zc, Zc)
    y_ss = n_pos * (1.0 - y_mean)  # sum of (y - mean)^2 for 0/1 labels
    # Constant columns (by value, not by the rounding of their centred sums) correlate 0.
    y_varies = (n_pos > 0) & (n_pos < n_fit)
    z_varies = Z.max(axis=0) > Z.min(axis=0)
    denom = np.sqrt(np.outer(y_ss, z_ss))
    ok = np.outer(y_varies, z_varies) & (denom > 0)
    strength = np.zeros((n_labels, n_labels))
    strength[ok] = np.abs(cross[ok] / denom[ok])
    np.fill_diagonal(strength, -1.0)  # never the label itself
    # A stable sort of the negated strengths: exact ties go to the lower index.
    return np.argsort(-strength, axis=1, kind="stable")[:, :k].astype(np.int64)


def _fit(
    blend: np.ndarray,
    Y_fit: np.ndarray,
    weights: np.ndarray,
    n_neighbours: int,
    C: float,
    min_positives: int,
) -> CrossLabelStacker:
    """Fit on the fitting rows' float64 blend (overwritten by its logits) and bool labels."""
    n_fit, n_labels = blend.shape
    for part in _row_blocks(n_fit, n_labels):
        blend[part] = logit(blend[part])
    Z = blend
    k = min(n_neighbours, n_labels - 1)
    n_pos = Y_fit.sum(axis=0)
    neighbours = _choose_neighbours(Z, Y_fit, n_pos, k)
    targets = np.ascontiguousarray(Y_fit.T)  # (L, n_fit): each label's targets contiguous
    to_fit = np.flatnonzero((n_pos >= min_positives) & (n_fit - n_pos >= min_positives))
    # Warm started as in automoa.ensemble.stacking; a fit that warns it did not converge is
    # dropped (the label keeps the blend).
    regressions = LabelRegressions(n_labels, 1 + k, C, drop_unconverged=True)
    for label in to_fit:
        X = Z[:, np.concatenate(([label], neighbours[label]))]  # (n_fit, 1 + k) float64
        regressions.fit(label, X, targets[label])
    return CrossLabelStacker(
        neighbours=neighbours,
        coef=regressions.coef,
        intercept=regressions.intercept,
        fitted=regressions.fitted,
        weights=weights,
    )


# --- validation -----------------------------------------------------------------------------


def _check_options(n_neighbours: int, C: float, min_positives: int) -> tuple[int, float, int]:
    n_neighbours = check_integer("n_neighbours", n_neighbours, 0)
    return n_neighbours, check_C(C), check_integer("min_positives", min_positives, 1)


def _frozen_neighbours(value: Any, n_labels: int, k: int) -> np.ndarray:
    """Validate the (L, k) neighbour indices; return a read-only int64 copy."""
    raw = np.asarray(value)
    if raw.shape != (n_labels, k):
        raise ConfigError(
            f"cross-label stacker neighbours: expected shape {(n_labels, k)} to match coef "
            f"{(n_labels, 1 + k)}, got {raw.shape}"
        )
    if raw.size and not np.issubdtype(raw.dtype, np.integer):
        raise ConfigError(
            f"cross-label stacker neighbours: expected integer label indices, got {raw.dtype}"
        )
    if raw.size and (raw.min() < 0 or raw.max() >= n_labels):
        raise ConfigError(
            f"cross-label stacker neighbours: expected label indices in [0, {n_labels}), got "
            f"values in [{raw.min()}, {raw.max()}]"
        )
    neighbours = raw.astype(np.int64)
    own = neighbours == np.arange(n_labels)[:, None]
    if own.any():
        label = int(np.flatnonzero(own.any(axis=1))[0])
        raise ConfigError(
            f"cross-label stacker neighbours: label {label} lists itself as a neighbour"
        )
    ordered = np.sort(neighbours, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
    if repeated.any():
        label = int(np.flatnonzero(repeated)[0])
        raise ConfigError(
            f"cross-label stacker neighbours: label {label} lists a neighbour more than once"
        )
    neighbours.setflags(write=False)
    return neighbours
