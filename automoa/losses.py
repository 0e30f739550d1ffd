"""Training losses for the torch families: BCE, label-smoothed BCE, focal; optional pos_weight.

Losses act on logits and are numerically stable for logits of +-50 (they are written with
``softplus`` / ``logsigmoid``, never ``log(sigmoid(z))``). They are used at training time only:
validation and CV always score plain log loss on hard labels (:mod:`automoa.metrics`).

The names and parameters below are what search spaces may offer (``losses:`` block); importing
this module does not import torch, which the torch families load when they fit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

#: Loss names a search space may offer, with the parameters each accepts.
LOSS_PARAMS: dict[str, tuple[str, ...]] = {
    "bce": ("pos_weight",),
    "smoothed_bce": ("smoothing", "pos_weight"),
    "focal": ("gamma", "alpha", "pos_weight"),
}
LOSS_NAMES: tuple[str, ...] = tuple(LOSS_PARAMS)
POS_WEIGHTS = ("none", "log")

LossFn = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]


def log_scaled_pos_weight(Y: np.ndarray) -> np.ndarray:
    """A mild per-label positive weight: ``max(1, ln(negatives / positives))``.

    The MoA 2nd-place solution weighted positives by a log of the imbalance; at MoA's 0.34%
    positives this gives about 5.7 instead of the raw ratio's ~290.

    Args:
        Y: (n, L) 0/1 training labels.

    Returns:
        float32 array of shape (L,).
    """
    positives = np.asarray(Y).sum(axis=0).astype(np.float64)
    negatives = Y.shape[0] - positives
    ratio = negatives / np.maximum(positives, 1.0)
    return np.maximum(1.0, np.log(np.maximum(ratio, 1.0))).astype(np.float32)


def _weighted(positive_term, negative_term, targets, pos_weight):
    """Mean of ``w * t * positive_term + (1 - t) * negative_term`` over all cells."""
    if pos_weight is not None:
        positive_term = positive_term * pos_weight
    return (targets * positive_term + (1 - targets) * negative_term).mean()


def bce(logits: torch.Tensor, targets: torch.Tensor, pos_weight=None) -> torch.Tensor:
    """Binary cross-entropy with logits (mean over cells), positives weighted by ``pos_weight``."""
    import torch.nn.functional as F

    return _weighted(F.softplus(-logits), F.softplus(logits), targets, pos_weight)


def smoothed_bce(
    logits: torch.Tensor, targets: torch.Tensor, smoothing: float = 0.001, pos_weight=None
) -> torch.Tensor:
    """BCE against smoothed targets ``t (1 - s) + s / 2`` (s = 0.001: 0.0005 / 0.9995)."""
    return bce(logits, targets * (1.0 - smoothing) + 0.5 * smoothing, pos_weight)


def focal(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma: float = 2.0,
    alpha: float = 0.25,
    pos_weight=None,
) -> torch.Tensor:
    """Focal loss (Lin et al. 2017): ``-alpha_t (1 - p_t)^gamma log p_t``, mean over cells.

    ``alpha`` weighs positives and ``1 - alpha`` negatives; ``gamma = 0, alpha = 0.5`` is half
    of BCE.
    """
    import torch
    import torch.nn.functional as F

    log_p = F.logsigmoid(logits)  # log p, stable for large |z|
    log_not_p = F.logsigmoid(-logits)  # log (1 - p)
    positive_term = -alpha * torch.exp(gamma * log_not_p) * log_p
    negative_term = -(1.0 - alpha) * torch.exp(gamma * log_p) * log_not_p
    return _weighted(positive_term, negative_term, targets, pos_weight)


def make_loss(name: str, params: Mapping[str, Any], Y_train: np.ndarray) -> LossFn:
    """The training loss ``fn(logits, targets)`` for a sampled loss configuration.

    Args:
        name: one of :data:`LOSS_NAMES`.
        params: the loss's parameters; ``pos_weight`` is ``"none"`` (default) or ``"log"``
            (:func:`log_scaled_pos_weight` of ``Y_train``).
        Y_train: the training labels (for ``pos_weight``).

    Returns:
        A function of (logits, targets) returning a scalar tensor.

    Raises:
        ValueError: unknown name or parameter value.
    """
    import torch

    if name not in LOSS_PARAMS:
        raise ValueError(f"unknown loss {name!r}; expected one of {', '.join(LOSS_NAMES)}")
    options = dict(params)
    weight_mode = options.pop("pos_weight", "none")
    if weight_mode not in POS_WEIGHTS:
        raise ValueError(f"pos_weight must be one of {POS_WEIGHTS}, got {weight_mode!r}")
    unknown = set(options) - set(LOSS_PARAMS[name])
    if unknown:
        raise ValueError(f"loss {name!r} takes no parameter {sorted(unknown)[0]!r}")
    pos_weight = None
    if weight_mode == "log":
        pos_weight = torch.from_numpy(log_scaled_pos_weight(Y_train))
    base = {"bce": bce, "smoothed_bce": smoothed_bce, "focal": focal}[name]

    def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        weight = None if pos_weight is None else pos_weight.to(logits.device, logits.dtype)
        return base(logits, targets, pos_weight=weight, **options)

    return loss
