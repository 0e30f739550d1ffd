"""Validation shared by the ensemble stages: candidates, probabilities, labels and row masks."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from automoa.exceptions import ConfigError, DataError

#: Candidates indexed 0..m-1; each item an array-like (ndarray, memmap) or a zero-argument
#: callable returning one (a lazy loader, e.g. reading an artifact).
Candidates = Sequence[Any] | Mapping[int, Any]

#: Member probabilities are clipped to [LOGIT_EPS, 1 - LOGIT_EPS] before taking logits.
LOGIT_EPS = 1e-6


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
    # Not np.isin: it sorts, ~30x slower on 24k x 206 labels, and this runs once per selection.
    if Y.dtype != bool and not ((Y == 0) | (Y == 1)).all():
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


def check_members(
    member_preds: Sequence[Any],
    expected: int | None,
    *,
    shape: tuple[int, ...] | None = None,
    n_labels: int | None = None,
) -> list[np.ndarray]:
    """Validate the members' probability matrices (a count, a shape or a label count)."""
    if isinstance(member_preds, np.ndarray):
        raise DataError("member_preds: expected a sequence of (n, L) arrays, one per member")
    members = list(member_preds)
    if not members:
        raise DataError("member_preds: expected at least one member, got none")
    if expected is not None and len(members) != expected:
        raise DataError(
            f"member_preds: expected {expected} member prediction matrices, got {len(members)}"
        )
    first = check_probabilities("member 0", members[0], shape)
    if n_labels is not None and first.shape[1] != n_labels:
        raise DataError(f"member 0: has {first.shape[1]} labels, expected {n_labels}")
    return [first] + [
        check_probabilities(f"member {j}", p, first.shape) for j, p in enumerate(members[1:], 1)
    ]


def check_weights(weights: Sequence[float], m: int) -> np.ndarray:
    """Validate blend weights; return them as float64 summing to 1."""
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"weights: expected {m} non-negative numbers, got {weights!r}") from None
    if w.shape != (m,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ConfigError(
            f"weights: expected {m} non-negative numbers (one per member) with a positive sum, "
            f"got {list(np.atleast_1d(w))}"
        )
    # Weights already summing to 1 (an Ensemble's) are kept bit for bit, so that the fallback
    # blend equals Ensemble.blend exactly.
    return w if abs(w.sum() - 1.0) <= 1e-12 else w / w.sum()


def check_integer(name: str, value: Any, low: int) -> int:
    """Validate an integer option.

    Args:
        name: the option's name, for the message.
        value: the value given.
        low: the smallest value allowed.

    Returns:
        ``value`` as an ``int``.

    Raises:
        ConfigError: not an integer (booleans are not) or below ``low``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def check_C(C: Any) -> float:
    """Validate the inverse regularisation strength ``C``.

    Returns:
        ``C`` as a ``float``.

    Raises:
        ConfigError: not a positive finite number.
    """
    if isinstance(C, bool) or not isinstance(C, (int, float, np.number)) or not 0 < C < np.inf:
        raise ConfigError(f"C: expected a positive finite number, got {C!r}")
    return float(C)


def frozen_array(owner: str, name: str, value: Any, dtype: Any) -> np.ndarray:
    """A read-only copy of ``value`` as ``dtype`` (``owner`` names the model in errors)."""
    try:
        array = np.array(value, dtype=dtype)
    except (TypeError, ValueError):
        raise ConfigError(f"{owner} {name}: expected a numeric array, got {value!r}") from None
    array.setflags(write=False)
    return array


def check_level2_arrays(
    owner: str, coef: Any, intercept: Any, fitted: Any, weights: Any, n_columns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The checked, read-only arrays of a per-label level-2 regression over a blend.

    Args:
        owner: the model's name in errors (``"stacker"``, ``"cross-label stacker"``).
        coef: (L, n_columns) coefficients.
        intercept: (L,) intercepts.
        fitted: bool (L,) whether each label's regression is used.
        weights: (m,) blend weights of the members, non-negative, summing to 1.
        n_columns: the number of coefficient columns the model reads.

    Returns:
        ``(coef, intercept, fitted, weights)`` as float64, float64, bool and float64 copies.

    Raises:
        ConfigError: a wrong shape or dtype, non-finite coefficients, or weights that are not
            non-negative and summing to 1.
    """
    coef = frozen_array(owner, "coef", coef, np.float64)
    if coef.ndim != 2 or coef.shape[0] == 0 or coef.shape[1] != n_columns:
        raise ConfigError(
            f"{owner} coef: expected a non-empty (L, {n_columns}) matrix, got {coef.shape}"
        )
    intercept = frozen_array(owner, "intercept", intercept, np.float64)
    if np.asarray(fitted).dtype != bool:
        raise ConfigError(
            f"{owner} fitted: expected a boolean array, got {np.asarray(fitted).dtype}"
        )
    fitted = frozen_array(owner, "fitted", fitted, bool)
    for name, value in (("intercept", intercept), ("fitted", fitted)):
        if value.shape != (coef.shape[0],):
            raise ConfigError(
                f"{owner} {name}: expected shape {(coef.shape[0],)} to match coef "
                f"{coef.shape}, got {value.shape}"
            )
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise ConfigError(f"{owner} coef/intercept: expected finite values")
    weights = frozen_array(owner, "weights", weights, np.float64)
    if (
        weights.ndim != 1
        or weights.size == 0
        or not (np.isfinite(weights).all() and (weights >= 0).all())
        or not np.isclose(weights.sum(), 1.0, rtol=0.0, atol=1e-9)
    ):
        raise ConfigError(
            f"{owner} weights: expected a non-empty vector of non-negative weights summing to "
            f"1, got {weights.tolist()}"
        )
    return coef, intercept, fitted, weights


def check_fold_order(folds: Sequence[int], n_ensembles: int, present: Any) -> tuple[int, ...]:
    """The folds of a nested estimate: one per ensemble, each fold of the data once.

    Raises:
        ConfigError: a count that does not match the ensembles, or a fold missing or repeated.
    """
    folds = tuple(int(f) for f in folds)
    if len(folds) != n_ensembles:
        raise ConfigError(
            f"folds: expected one fold per ensemble ({n_ensembles}), got {len(folds)}"
        )
    if sorted(folds) != list(present):
        raise ConfigError(
            f"folds: expected each fold of fold_of {list(present)} once, got {list(folds)}"
        )
    return folds


def logit(p: np.ndarray) -> np.ndarray:
    """float64 logit of probabilities clipped to [LOGIT_EPS, 1 - LOGIT_EPS]."""
    q = np.clip(np.asarray(p, dtype=np.float64), LOGIT_EPS, 1.0 - LOGIT_EPS)
    return np.log(q) - np.log1p(-q)
