"""Blend weights fitted under constraints: non-negative and summing to 1 (scipy's SLSQP).

An alternative to greedy selection for a handful of candidates: the weights minimise the true
metric (mean column-wise log loss, which is the mean over all cells since every column has the
same rows) of the weighted average directly, with its exact gradient. The candidates' scored
cells are stacked once as an (m, cells) float32 matrix, so each evaluation is two
matrix-vector products; known-negative rows are predicted 0 whatever the weights and add a
constant, so they are left out of the optimisation.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.optimize import minimize

from automoa.ensemble.checks import Candidates, check_labels, check_mask, fetch_candidate
from automoa.ensemble.selection import Ensemble
from automoa.exceptions import ConfigError, DataError
from automoa.metrics import EPS

#: Weights below this are dropped from the ensemble (and the rest renormalised).
MIN_WEIGHT = 1e-4
_MAX_ITER = 200
_FTOL = 1e-12


def fit_constrained_weights(
    oofs: Candidates,
    Y: np.ndarray,
    *,
    rows: np.ndarray | None = None,
    known_negative: np.ndarray | None = None,
    max_iter: int = _MAX_ITER,
) -> Ensemble:
    """Fit non-negative blend weights summing to 1 that minimise the metric on ``rows``.

    Args:
        oofs: the (n, L) probability matrices to blend (arrays, memmaps or loaders), at least
            one; every one is read once.
        Y: (n, L) 0/1 labels.
        rows: optional (n,) boolean mask of the rows to fit on; ``None`` fits on every row.
        known_negative: optional (n,) boolean mask of rows predicted 0 (never fitted on).
        max_iter: SLSQP iterations at most.

    Returns:
        An :class:`Ensemble` over the indices of ``oofs`` with weight at least
        :data:`MIN_WEIGHT` (renormalised); its score is the metric on the fitting rows and its
        trajectory the objective after each SLSQP evaluation that improved it.

    Raises:
        DataError: malformed labels, masks or candidates, or no row to fit on.
        ConfigError: ``max_iter`` below 1.
    """
    Yb, kn = check_labels(Y, known_negative)
    n, n_labels = Yb.shape
    fit_rows = np.ones(n, dtype=bool) if rows is None else check_mask("rows", rows, n)
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ConfigError(f"max_iter: expected an integer >= 1, got {max_iter!r}")
    if len(oofs) == 0:
        raise DataError("constrained weights: no candidates given")
    if not fit_rows.any():
        raise DataError("constrained weights: no rows to fit on")
    scored = fit_rows & ~kn
    m = len(oofs)
    P = np.empty((m, int(scored.sum()) * n_labels), dtype=np.float32)
    for i in range(m):
        c = fetch_candidate(oofs, i)
        if c.shape != Yb.shape:
            raise DataError(f"candidate {i}: has shape {c.shape}, expected {Yb.shape}")
        P[i] = np.asarray(c[scored], dtype=np.float32).ravel()
    y = Yb[scored].ravel()
    # Known-negative rows in the fitting rows: a 0 prediction, clipped by the metric.
    constant = float((fit_rows & kn).sum()) * n_labels * -np.log1p(-EPS)
    cells = int(fit_rows.sum()) * n_labels
    history: list[float] = []

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        # Clipped in float64, as the metric does: in float32, 1 - EPS rounds to 1, and a blend
        # at 1 on a negative gave an infinite loss and slope.
        p = np.clip((w.astype(np.float32) @ P).astype(np.float64), EPS, 1.0 - EPS)
        loss = -(np.log(np.where(y, p, 1.0 - p)).sum(dtype=np.float64)) + constant
        # d/dp of -log(p) on positives and -log(1 - p) on negatives.
        slope = np.where(y, -1.0 / p, 1.0 / (1.0 - p)).astype(np.float32)
        value = loss / cells
        if not history or value < history[-1]:
            history.append(float(value))
        return value, (P @ slope).astype(np.float64) / cells

    start = np.full(m, 1.0 / m)
    if m == 1:
        weights = start
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = minimize(
                objective,
                start,
                jac=True,
                method="SLSQP",
                bounds=[(0.0, 1.0)] * m,
                constraints=[
                    {"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(m)}
                ],
                options={"maxiter": max_iter, "ftol": _FTOL},
            )
        weights = np.clip(result.x, 0.0, None)
        if not np.isfinite(weights).all() or weights.sum() <= 0:
            weights = start
    keep = weights >= MIN_WEIGHT
    if not keep.any():
        keep = weights == weights.max()
    members = tuple(int(i) for i in np.flatnonzero(keep))
    kept = weights[keep] / weights[keep].sum()
    final = np.zeros(m)
    final[list(members)] = kept
    score, _ = objective(final)
    return Ensemble(
        members=members,
        weights=tuple(float(w) for w in kept),
        score=float(score),
        trajectory=tuple(history) or (float(score),),
    )
