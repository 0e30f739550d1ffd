"""MLSMOTE: synthetic rows for the minority labels of a multi-label data set.

Implements Charte, Rivera, del Jesus and Herrera, "MLSMOTE: Approaching imbalanced multilabel
learning through synthetic instance generation", Knowledge-Based Systems 89 (2015) 385-397.

Definitions (over the training-fold rows; ``pos(l)`` is the number of rows where label ``l`` is
positive):

- ``IRLbl(l) = max_l' pos(l') / pos(l)``, defined for labels with at least one positive;
- ``MeanIR`` = mean of ``IRLbl`` over the labels with at least one positive;
- a *minority label* has ``IRLbl(l) > MeanIR``.

The algorithm as implemented by :func:`mlsmote_detailed`:

1. ``MeanIR`` and the set of minority labels are computed **once**, from the original rows, as
   in the paper. Labels with no positive row have no ``IRLbl`` and are ignored.
2. Minority labels are processed rarest first (fewest original positives; ties by column
   index), so that when the ``max_new_fraction`` budget runs out it is the common labels that
   go without.
3. The *bag* of label ``l`` is the set of **original** rows where ``l`` is positive. Synthetic
   rows made for earlier labels never enter a bag: every synthetic row is interpolated between
   two real rows, so errors do not compound. (They do count towards the positive counts, see 6.)
   A bag of fewer than 2 rows cannot be interpolated: the label is skipped.
4. Each bag row's ``k`` nearest neighbours (Euclidean, scikit-learn ``NearestNeighbors``) are
   searched **within the bag only**, the row itself excluded; a bag of ``m <= k`` rows uses its
   ``k' = m - 1`` other rows. The synthetic label vector of a bag row is given by the paper's
   *ranking* rule: label ``j`` is positive iff it is positive in more than half of the
   ``k' + 1`` rows made of the row and its neighbours (so ``l`` itself is always positive).
5. The bag is visited in passes, each in a fresh random order; ``amount`` sets how many rows
   are visited (see :func:`mlsmote_detailed`). For each visit one neighbour is drawn uniformly
   from the row's ``k'`` neighbours and the synthetic features are
   ``x_f = r_f + (n_f - r_f) * u_f`` with a fresh ``u_f ~ U(0, 1)`` **per feature**: the point
   moves from the row ``r`` towards the neighbour ``n``, inside the box they span.
6. ``IRLbl`` is re-assessed after every synthetic row, with positive counts that include every
   synthetic row made so far (for any label, with their ranking-rule label vectors). A row is
   made for ``l`` only while ``IRLbl(l) > MeanIR``; once ``l`` is no longer a minority label,
   its oversampling stops. A label that earlier synthetic rows already lifted out of the
   minority gets no rows.
7. At most ``floor(max_new_fraction * n)`` synthetic rows are made in total.

The widely copied Python snippets differ from the paper in several ways (they move away from
the neighbour, pool all minority rows into one bag, use the union label rule and draw one ``u``
per row); this module follows the paper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

from automoa.preprocessing.base import Oversampler
from automoa.preprocessing.registry import register
from automoa.preprocessing.resampler_inputs import check_int, check_resample_inputs

__all__ = [
    "MLSMOTEResult",
    "MLSMOTEStep",
    "imbalance_ratios",
    "mlsmote",
    "mlsmote_detailed",
]


@dataclass(frozen=True)
class MLSMOTEResult:
    """The synthetic rows made by :func:`mlsmote_detailed`, in the order they were made.

    Attributes:
        X_new: synthetic features, float32, shape ``(s, d)``.
        Y_new: synthetic labels, uint8, shape ``(s, L)``.
        label: for each synthetic row, the minority label it was made for (int64).
        row: for each synthetic row, the index (in the input) of the bag row it starts from.
        neighbour: for each synthetic row, the index (in the input) of the bag neighbour it
            moves towards.
    """

    X_new: np.ndarray
    Y_new: np.ndarray
    label: np.ndarray
    row: np.ndarray
    neighbour: np.ndarray


def _check_positive_float(name: str, value: object) -> float:
    """``value`` as a finite float ``> 0``; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}") from None
    if not math.isfinite(result) or result <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return result


def _check_params(k: object, amount: object, max_new_fraction: object) -> tuple[int, float, float]:
    return (
        check_int("k", k, 1),
        _check_positive_float("amount", amount),
        _check_positive_float("max_new_fraction", max_new_fraction),
    )


def imbalance_ratios(counts: np.ndarray) -> tuple[np.ndarray, float]:
    """``IRLbl`` of every label and ``MeanIR``, from positive counts.

    Args:
        counts: positives per label, shape ``(L,)``.

    Returns:
        ``(irlbl, mean_ir)``: ``irlbl`` is ``inf`` for labels with no positive; ``mean_ir`` is
        the mean over the other labels (``nan`` if every label has 0 positives).
    """
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    irlbl = np.full(counts.shape, np.inf)
    if not present.any():
        return irlbl, math.nan
    irlbl[present] = counts.max() / counts[present]
    return irlbl, float(irlbl[present].mean())


def _empty_result(d: int, n_labels: int) -> MLSMOTEResult:
    none = np.zeros(0, dtype=np.int64)
    return MLSMOTEResult(
        np.zeros((0, d), dtype=np.float32),
        np.zeros((0, n_labels), dtype=np.uint8),
        none,
        none,
        none,
    )


def _mlsmote(
    X: np.ndarray,
    Y: np.ndarray,
    k: int,
    amount: float,
    max_new_fraction: float,
    rng: np.random.Generator,
) -> MLSMOTEResult:
    """MLSMOTE on validated inputs (X float32, Y uint8, parameters checked)."""
    n, d = X.shape
    n_labels = Y.shape[1]
    budget = math.floor(max_new_fraction * n)
    counts = Y.sum(axis=0, dtype=np.int64)
    if budget == 0 or not counts.any():
        return _empty_result(d, n_labels)

    irlbl, mean_ir = imbalance_ratios(counts)
    minority = np.flatnonzero((counts > 0) & (irlbl > mean_ir))
    order = minority[np.argsort(counts[minority], kind="stable")]

    parts: list[tuple[np.ndarray, ...]] = []
    for label in order:
        if budget == 0:
            break
        # Earlier labels' synthetic rows may already have lifted this one out of the minority.
        if counts.max() / counts[label] <= mean_ir:
            continue
        bag = np.flatnonzero(Y[:, label])
        m = bag.size
        if m < 2:
            continue  # one row has no neighbour to interpolate towards
        n_target = min(math.floor(amount * m + 0.5), budget)
        if n_target == 0:
            continue
        k_eff = min(k, m - 1)
        X_bag = X[bag]
        Y_bag = Y[bag]
        # kneighbors() without X excludes each query row itself (by index, so duplicates of a
        # row still count as neighbours). Brute force: bags are small and d is large.
        neighbours = (
            NearestNeighbors(n_neighbors=k_eff, algorithm="brute")
            .fit(X_bag)
            .kneighbors(return_distance=False)
        )
        votes = Y_bag[neighbours].sum(axis=1, dtype=np.int64) + Y_bag
        row_labels = (2 * votes > k_eff + 1).astype(np.uint8)  # ranking rule: > half of k'+1

        # Passes over the bag, each in a fresh random order; the last one is partial.
        n_passes = -(-n_target // m)
        seeds = np.concatenate([rng.permutation(m) for _ in range(n_passes)])[:n_target]

        # Re-assess IRLbl after each candidate row; row t is made only if the label was still
        # a minority after rows 0..t-1 (it is before row 0, checked above).
        cum = counts + np.cumsum(row_labels[seeds], axis=0, dtype=np.int64)
        no_longer = cum.max(axis=1) / cum[:, label] <= mean_ir
        stops = np.flatnonzero(no_longer)
        n_make = int(stops[0]) + 1 if stops.size else n_target
        seeds = seeds[:n_make]

        refs = neighbours[seeds, rng.integers(k_eff, size=n_make)]
        start, end = X_bag[seeds], X_bag[refs]
        # The arithmetic in float64 (u would lose resolution in float32); the result is cast
        # back, and rounding could then step a hair outside the box spanned by the row and the
        # neighbour: clip it back, so the point never lies beyond either of them.
        step = (end.astype(np.float64) - start) * rng.random((n_make, d))
        new = (start + step).astype(np.float32)
        np.clip(new, np.minimum(start, end), np.maximum(start, end), out=new)

        parts.append(
            (new, row_labels[seeds], np.full(n_make, label, dtype=np.int64), bag[seeds], bag[refs])
        )
        counts = cum[n_make - 1]
        budget -= n_make

    if not parts:
        return _empty_result(d, n_labels)
    X_new, Y_new, labels, rows, refs = (np.concatenate(col) for col in zip(*parts, strict=True))
    return MLSMOTEResult(X_new, Y_new, labels, rows.astype(np.int64), refs.astype(np.int64))


def mlsmote_detailed(
    X: np.ndarray,
    Y: np.ndarray,
    *,
    k: int = 5,
    amount: float = 1.0,
    max_new_fraction: float = 1.0,
    rng: np.random.Generator | int | None = None,
) -> MLSMOTEResult:
    """MLSMOTE synthetic rows with their provenance (Charte et al., KBS 89, 2015).

    See the module docstring for the algorithm and its choices.

    Args:
        X: original features, shape ``(n, d)``, finite.
        Y: original binary labels, shape ``(n, L)``.
        k: number of nearest neighbours searched within each bag (``>= 1``; bags of ``m <= k``
            rows use ``m - 1``). The paper uses 5.
        amount: how many synthetic rows each minority label's bag may yield, as a multiple of
            the bag size ``m``: up to ``floor(amount * m + 0.5)`` rows, made by visiting the
            bag rows in passes, each pass a fresh random permutation of the bag; the integer
            part of ``amount`` is the number of full passes and the fractional part a random
            subset of the bag in the last pass. ``amount = 1`` is the paper (one synthetic row
            per bag row). Fewer rows are made when the label stops being a minority label
            first, or when the ``max_new_fraction`` budget runs out.
        max_new_fraction: hard cap on the total number of synthetic rows,
            ``floor(max_new_fraction * n)``.
        rng: a numpy Generator, or a seed for one.

    Returns:
        The synthetic rows (original rows not included) and their provenance.

    Raises:
        ValueError: invalid parameters or inputs.
    """
    k, amount, max_new_fraction = _check_params(k, amount, max_new_fraction)
    Xf, Yb = check_resample_inputs(X, Y)
    return _mlsmote(Xf, Yb, k, amount, max_new_fraction, np.random.default_rng(rng))


def mlsmote(
    X: np.ndarray,
    Y: np.ndarray,
    *,
    k: int = 5,
    amount: float = 1.0,
    max_new_fraction: float = 1.0,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """MLSMOTE synthetic rows only (Charte et al., KBS 89, 2015).

    Same arguments as :func:`mlsmote_detailed`.

    Returns:
        ``(X_new, Y_new)``: the synthetic rows, float32 and uint8, in the order they were made.
    """
    result = mlsmote_detailed(X, Y, k=k, amount=amount, max_new_fraction=max_new_fraction, rng=rng)
    return result.X_new, result.Y_new


@register
class MLSMOTEStep(Oversampler):
    """MLSMOTE oversampling of minority labels (Charte et al., Knowledge-Based Systems 89, 2015).

    A resampler: applied to the training fold only; validation, test and new rows pass through
    unchanged. See the module docstring for the algorithm.

    Args:
        k: nearest neighbours searched within each minority label's bag (``>= 1``).
        amount: synthetic rows per minority label, as a multiple of its bag size (``> 0``; 1 is
            the paper: one row per bag row); see :func:`mlsmote_detailed`.
        max_new_fraction: at most ``floor(max_new_fraction * n)`` rows are added (``> 0``).

    Raises:
        ValueError: for invalid parameters.
    """

    name = "mlsmote"

    def __init__(self, k: int = 5, amount: float = 1.0, max_new_fraction: float = 1.0) -> None:
        k, amount, max_new_fraction = _check_params(k, amount, max_new_fraction)
        super().__init__(k=k, amount=amount, max_new_fraction=max_new_fraction)

    def new_rows(
        self, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """The synthetic rows (see :class:`~automoa.preprocessing.base.Oversampler`)."""
        p = self.params
        result = _mlsmote(X, Y, p["k"], p["amount"], p["max_new_fraction"], rng)
        return result.X_new, result.Y_new
