"""Validation shared by the ensemble stages: candidates, probabilities, labels and row masks."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from automoa.exceptions import DataError

#: Candidates indexed 0..m-1; each item an array-like (ndarray, memmap) or a zero-argument
#: callable returning one (a lazy loader, e.g. reading an artifact).
Candidates = Sequence[Any] | Mapping[int, Any]


def fetch_candidate(oofs: Candidates, i: int) -> np.ndarray:
    """Candidate ``i`` as an ndarray (a view for memmaps; loaders are called)."""
    try:
        item = oofs[i]
    except (KeyError, IndexError):
        raise DataError(f"candidate {i} is missing from the candidates given") from None
    if callable(item):
        item = item()
    return np.asarray(item)


def check_probabilities(name: str, P: Any, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Validate an (n, L) probability matrix (of ``shape`` if given); return it as an array."""
    P = np.asarray(P)
    if P.ndim != 2 or P.shape[0] == 0 or P.shape[1] == 0:
        raise DataError(f"{name}: expected a non-empty (n, L) matrix, got shape {P.shape}")
    if shape is not None and P.shape != shape:
        raise DataError(f"{name}: has shape {P.shape}, expected {shape}")
    if not (np.issubdtype(P.dtype, np.floating) or np.issubdtype(P.dtype, np.integer)):
        raise DataError(f"{name}: has dtype {P.dtype}, expected floating point")
    lo, hi = float(P.min()), float(P.max())
    if math.isnan(lo) or math.isnan(hi):
        raise DataError(f"{name}: contains NaN")
    if lo < 0.0 or hi > 1.0:
        raise DataError(f"{name}: has values in [{lo:g}, {hi:g}], expected probabilities in [0, 1]")
    return P


def check_mask(name: str, mask: Any, n: int) -> np.ndarray:
    """Validate an (n,) boolean row mask."""
    mask = np.asarray(mask)
    if mask.shape != (n,) or mask.dtype != bool:
        raise DataError(
            f"{name}: expected a boolean mask of shape ({n},), got {mask.dtype} of shape "
            f"{mask.shape}"
        )
    return mask


def check_labels(
    Y: Any, known_negative: Any, shape: tuple[int, ...] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels and the known-negative mask.

    Args:
        Y: (n, L) 0/1 labels.
        known_negative: optional (n,) boolean mask of rows whose labels are all 0.
        shape: the shape ``Y`` must have (that of the predictions), if given.

    Returns:
        (Y as bool, the mask; all False when ``known_negative`` is None).

    Raises:
        DataError: a malformed label matrix or mask, or a known-negative row with a positive.
    """
    Y = np.asarray(Y)
    if Y.ndim != 2 or Y.shape[0] == 0 or Y.shape[1] == 0:
        raise DataError(f"Y: expected a non-empty (n, L) label matrix, got shape {Y.shape}")
    if shape is not None and Y.shape != shape:
        raise DataError(f"Y: has shape {Y.shape}, expected {shape} (the predictions' shape)")
    if not np.isin(Y, (0, 1)).all():
        raise DataError("Y: expected labels 0 or 1 only")
    Yb = Y.astype(bool)
    n = Y.shape[0]
    if known_negative is None:
        return Yb, np.zeros(n, dtype=bool)
    kn = check_mask("known_negative", known_negative, n)
    bad = kn & Yb.any(axis=1)
    if bad.any():
        raise DataError(
            f"known_negative: {int(bad.sum())} known-negative row(s) have a positive label, "
            f"e.g. row {int(np.flatnonzero(bad)[0])}; expected all labels 0"
        )
    return Yb, kn
