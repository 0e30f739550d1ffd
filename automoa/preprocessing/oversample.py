"""Rare-label oversampling by duplicating rows: a cheap alternative to MLSMOTE.

Definition (over the training-fold rows; ``pos(l)`` counts the rows where label ``l`` is
positive, duplicates included as they are added):

- a label is *rare* if ``0 < pos(l) < min_positives`` in the original rows (labels with no
  positive have no row to repeat and are ignored);
- rare labels are processed rarest first (fewest original positives; ties by column index);
- for a rare label ``l``, while ``pos(l) < min_positives``: take the original rows positive for
  ``l`` that have been duplicated fewer than ``max_repeats`` times so far, in a fresh random
  order, and duplicate as many of them (each once) as are still needed; repeat this round until
  ``l`` reaches ``min_positives`` or none of its rows can be duplicated again;
- ``max_repeats`` caps the number of copies of **each row**, across all labels: a row appears
  at most ``1 + max_repeats`` times in the output. A duplicate keeps all the row's labels, so it
  also counts towards the other (rare) labels it carries, which may then need fewer copies.

Rows positive only for frequent labels are never duplicated. At most
``sum over rare labels of (min_positives - 1)`` rows are added.
"""

from __future__ import annotations

import numpy as np

from automoa.preprocessing.base import Oversampler
from automoa.preprocessing.registry import register
from automoa.preprocessing.resampler_inputs import check_int

__all__ = ["RareLabelOversampleStep", "rare_label_duplicates"]


def rare_label_duplicates(
    Y: np.ndarray,
    *,
    min_positives: int = 20,
    max_repeats: int = 5,
    rng: np.random.Generator | int | None = None,
) -> np.ndarray:
    """Which original rows to duplicate, in order (see the module docstring).

    Args:
        Y: binary labels, shape ``(n, L)``.
        min_positives: labels with fewer positives than this are rare (``>= 1``).
        max_repeats: the most copies made of any one row (``>= 1``).
        rng: a numpy Generator, or a seed for one.

    Returns:
        Indices into ``Y`` of the rows to append, in the order they are appended (int64).

    Raises:
        ValueError: invalid parameters or labels.
    """
    min_positives = check_int("min_positives", min_positives, 1)
    max_repeats = check_int("max_repeats", max_repeats, 1)
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise ValueError(f"Y must be 2-D, got shape {Y.shape}")
    if Y.dtype != np.bool_ and not ((Y == 0) | (Y == 1)).all():
        raise ValueError("Y must contain only 0 and 1")
    return _duplicates(
        Y.astype(np.uint8, copy=False), min_positives, max_repeats, np.random.default_rng(rng)
    )


def _duplicates(
    Y: np.ndarray, min_positives: int, max_repeats: int, rng: np.random.Generator
) -> np.ndarray:
    counts = Y.sum(axis=0, dtype=np.int64)
    rare = np.flatnonzero((counts > 0) & (counts < min_positives))
    order = rare[np.argsort(counts[rare], kind="stable")]
    repeats = np.zeros(Y.shape[0], dtype=np.int64)
    picked: list[np.ndarray] = []
    for label in order:
        bag = np.flatnonzero(Y[:, label])
        # Each pass duplicates every still-eligible row at most once, so at most max_repeats
        # passes; the label's count grows by exactly one per duplicate.
        while counts[label] < min_positives:
            eligible = bag[repeats[bag] < max_repeats]
            if eligible.size == 0:
                break
            take = rng.permutation(eligible)[: min_positives - counts[label]]
            repeats[take] += 1
            counts += Y[take].sum(axis=0, dtype=np.int64)
            picked.append(take)
    if not picked:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate(picked).astype(np.int64)


@register
class RareLabelOversampleStep(Oversampler):
    """Duplicate the rows of rare labels until each has ``min_positives`` positives.

    A resampler: applied to the training fold only. See the module docstring for the exact
    rule.

    Args:
        min_positives: labels with fewer positives than this are rare (``>= 1``).
        max_repeats: the most copies made of any one row (``>= 1``).

    Raises:
        ValueError: for invalid parameters.
    """

    name = "oversample"

    def __init__(self, min_positives: int = 20, max_repeats: int = 5) -> None:
        min_positives = check_int("min_positives", min_positives, 1)
        max_repeats = check_int("max_repeats", max_repeats, 1)
        super().__init__(min_positives=min_positives, max_repeats=max_repeats)

    def new_rows(
        self, X: np.ndarray, Y: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Copies of rare labels' rows (see :class:`~automoa.preprocessing.base.Oversampler`)."""
        rows = _duplicates(Y, self.params["min_positives"], self.params["max_repeats"], rng)
        return X[rows], Y[rows]
