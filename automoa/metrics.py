"""The competition metric: mean column-wise binary log loss.

Convention (the Kaggle MoA one): the mean over the L scored targets of the binary log loss
over all rows, natural log, predictions clipped to ``[eps, 1 - eps]`` with ``eps = 1e-15``.
Known-negative rows (MoA controls) are included and predicted 0, so they contribute ~0 loss.
Every score automoa reports uses this one definition.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-15

METRIC_CONVENTION = (
    "mean over scored targets of the binary log loss over all rows (known-negative rows "
    "included and predicted 0), natural log, predictions clipped to [1e-15, 1-1e-15]"
)


def columnwise_log_loss(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    eps: float = EPS,
    sample_weight: np.ndarray | None = None,
) -> np.ndarray:
    """Binary log loss of each column.

    Args:
        y_true: (n, L) array of 0/1 labels.
        y_pred: (n, L) array of predicted probabilities.
        eps: clipping bound.
        sample_weight: optional (n,) row weights (a weighted mean over rows).

    Returns:
        float64 array of shape (L,).
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"shape mismatch: y_true {y_true.shape} vs y_pred {y_pred.shape}")
    if y_true.ndim == 1:
        y_true = y_true[:, None]
        y_pred = y_pred[:, None]
    p = np.clip(y_pred.astype(np.float64, copy=False), eps, 1.0 - eps)
    t = y_true.astype(bool, copy=False)
    # Only the log of the probability given to the true class counts.
    loss = -np.where(t, np.log(p), np.log1p(-p))
    if sample_weight is None:
        return loss.mean(axis=0)
    return np.average(loss, axis=0, weights=np.asarray(sample_weight, dtype=np.float64))


def mean_columnwise_log_loss(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    eps: float = EPS,
    sample_weight: np.ndarray | None = None,
) -> float:
    """Mean over columns of the binary log loss (the MoA metric).

    Args:
        y_true: (n, L) array of 0/1 labels.
        y_pred: (n, L) array of predicted probabilities.
        eps: clipping bound.
        sample_weight: optional (n,) row weights.

    Returns:
        The score; lower is better.
    """
    return float(columnwise_log_loss(y_true, y_pred, eps, sample_weight).mean())


def prior_probabilities(Y: np.ndarray, smoothing: float = 1.0) -> np.ndarray:
    """Per-label positive rate with additive smoothing: ``(pos + a) / (n + 2a)``.

    Args:
        Y: (n, L) 0/1 training labels.
        smoothing: the additive constant ``a`` (1.0 is Laplace).

    Returns:
        float64 array of shape (L,).
    """
    Y = np.asarray(Y)
    return (Y.sum(axis=0) + smoothing) / (Y.shape[0] + 2.0 * smoothing)
