"""Training losses for families that take one (the torch families).

Only the names live here for now: search spaces validate ``losses`` blocks against them. The
torch implementations arrive with the torch families.
"""

from __future__ import annotations

#: Loss names a search space may offer, with the parameters each accepts.
LOSS_PARAMS: dict[str, tuple[str, ...]] = {
    "bce": ("pos_weight",),
    "smoothed_bce": ("smoothing", "pos_weight"),
    "focal": ("gamma", "alpha", "pos_weight"),
}
LOSS_NAMES: tuple[str, ...] = tuple(LOSS_PARAMS)
