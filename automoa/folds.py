"""Shared cross-validation folds: multilabel-stratified K-fold, optionally group-aware.

Folds are computed once per study and stored with it; every trial uses the same assignment, so
all out-of-fold matrices are aligned row for row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

from automoa.exceptions import ConfigError, DataError

#: Groups (drugs) with at most this many rows are kept whole in one fold (the MoA recipe).
DEFAULT_MAX_GROUP_SIZE = 18


def _stratified_assign(Y: np.ndarray, n_splits: int, seed: int) -> np.ndarray:
    """Fold index of each row of ``Y`` by multilabel-stratified K-fold."""
    fold_of = np.empty(Y.shape[0], dtype=np.int16)
    if Y.shape[1] == 1:
        # iterstrat refuses one column; stratifying on (y, 1 - y) is stratifying on y.
        Y = np.column_stack([Y[:, 0], 1 - Y[:, 0]])
    splitter = MultilabelStratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for fold, (_, valid_idx) in enumerate(splitter.split(np.zeros((Y.shape[0], 1)), Y)):
        fold_of[valid_idx] = fold
    return fold_of


def check_n_splits(n_splits: int, n_rows: int) -> None:
    """Raise :class:`ConfigError` unless ``2 <= n_splits <= n_rows``."""
    if n_splits < 2:
        raise ConfigError(f"--folds: expected at least 2 folds, got {n_splits}")
    if n_splits > n_rows:
        raise ConfigError(
            f"--folds: {n_splits} folds need at least {n_splits} rows, data has {n_rows}"
        )


def make_folds(
    Y: np.ndarray,
    n_splits: int = 5,
    seed: int = 0,
    groups: np.ndarray | None = None,
    max_group_size: int = DEFAULT_MAX_GROUP_SIZE,
) -> np.ndarray:
    """Assign every row to one of ``n_splits`` folds.

    Without ``groups``: MultilabelStratifiedKFold (iterative stratification). With ``groups``
    (drug-aware CV of the MoA winners): groups of at most ``max_group_size`` rows go whole to one
    fold, stratified on each group's label vector (any row positive); rows of larger groups are
    split individually, stratified on their labels.

    Args:
        Y: (n, L) 0/1 label matrix.
        n_splits: number of folds, at least 2.
        seed: random seed; the same inputs and seed always give the same folds.
        groups: optional (n,) group labels.
        max_group_size: largest group kept whole.

    Returns:
        int16 array of shape (n,) with values in ``range(n_splits)``.

    Raises:
        ConfigError: if ``n_splits`` is below 2 or above the number of rows.
    """
    Y = np.asarray(Y)
    check_n_splits(n_splits, Y.shape[0])
    if groups is None:
        return _stratified_assign(Y, n_splits, seed)

    groups = np.asarray(groups)
    uniques, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    small = counts[inverse] <= max_group_size
    fold_of = np.empty(Y.shape[0], dtype=np.int16)

    small_groups = np.flatnonzero(counts <= max_group_size)
    if len(small_groups) >= n_splits:
        # One label vector per small group: a label is on if any of its rows has it.
        group_labels = np.zeros((len(uniques), Y.shape[1]), dtype=np.uint8)
        np.maximum.at(group_labels, inverse[small], Y[small])
        group_fold = np.full(len(uniques), -1, dtype=np.int16)
        group_fold[small_groups] = _stratified_assign(group_labels[small_groups], n_splits, seed)
        fold_of[small] = group_fold[inverse[small]]
    else:
        small[:] = False  # too few small groups to spread over folds: split all rows

    large_rows = np.flatnonzero(~small)
    if len(large_rows) >= n_splits:
        fold_of[large_rows] = _stratified_assign(Y[large_rows], n_splits, seed)
    elif len(large_rows):
        fold_of[large_rows] = np.arange(len(large_rows)) % n_splits
    return fold_of


def fold_indices(fold_of: np.ndarray, fold: int) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation row indices of one fold.

    Args:
        fold_of: the fold assignment from :func:`make_folds`.
        fold: the fold index.

    Returns:
        ``(train_idx, valid_idx)``.
    """
    valid = fold_of == fold
    return np.flatnonzero(~valid), np.flatnonzero(valid)


def check_fold_labels(fold_of: Any, n: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """Validate fold labels.

    Args:
        fold_of: (n,) integer fold of each row.
        n: the number of rows.

    Returns:
        (fold_of as an array, the distinct folds ascending).

    Raises:
        DataError: if ``fold_of`` is not (n,) integers.
        ConfigError: if there are fewer than 2 folds.
    """
    fold_of = np.asarray(fold_of)
    if fold_of.shape != (n,) or not np.issubdtype(fold_of.dtype, np.integer):
        raise DataError(
            f"fold_of: expected {n} integer fold labels, got {fold_of.dtype} array of shape "
            f"{fold_of.shape}"
        )
    folds = tuple(int(f) for f in np.unique(fold_of))
    if len(folds) < 2:
        raise ConfigError(f"fold_of: expected at least 2 folds, got {len(folds)}")
    return fold_of, folds
