"""Input checks shared by the resampling steps (MLSMOTE, oversampling, label-powerset)."""

from __future__ import annotations

import operator

import numpy as np

__all__ = ["check_int", "check_resample_inputs"]


def check_int(name: str, value: object, minimum: int) -> int:
    """``value`` as an int ``>= minimum``; ValueError otherwise (bools and floats rejected)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    try:
        result = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}") from None
    if result < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(result)


def check_resample_inputs(
    X: np.ndarray, Y: np.ndarray, feature_names: tuple[str, ...] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Validate the inputs of a resampler and return them as float32 / uint8.

    Args:
        X: features, shape ``(n, d)``, finite.
        Y: binary labels (0/1 or bool), shape ``(n, L)``.
        feature_names: if given, must have ``d`` names.

    Returns:
        ``X`` as float32 and ``Y`` as uint8 (no copy when they already have those dtypes; the
        callers never write to them).

    Raises:
        ValueError: wrong shapes, non-finite features or non-binary labels.
    """
    X = np.asarray(X)
    Y = np.asarray(Y)
    if X.ndim != 2 or Y.ndim != 2:
        raise ValueError(f"X and Y must be 2-D, got shapes {X.shape} and {Y.shape}")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
    if feature_names is not None and len(feature_names) != X.shape[1]:
        raise ValueError(f"{len(feature_names)} feature names for {X.shape[1]} columns")
    Xf = X.astype(np.float32, copy=False)
    if not np.isfinite(Xf).all():
        raise ValueError("X contains NaN or infinite values (impute before resampling)")
    if Y.dtype != np.bool_ and not ((Y == 0) | (Y == 1)).all():
        raise ValueError("Y must contain only 0 and 1")
    return Xf, Y.astype(np.uint8, copy=False)
