"""The ``prior`` family: each label predicted with its (smoothed) training rate.

This is the constant baseline every report compares to.
"""

from __future__ import annotations

import numpy as np

from automoa.metrics import prior_probabilities
from automoa.models.base import FittedModel, ModelFamily, ModelState
from automoa.models.registry import register


class FittedPrior(FittedModel):
    """Constant per-label probabilities."""

    def __init__(self, rates: np.ndarray) -> None:
        self.rates = np.asarray(rates, dtype=np.float32)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.tile(self.rates, (len(X), 1))

    def state(self) -> ModelState:
        return ModelState("prior", {}, {"rates": self.rates})

    @classmethod
    def from_state(cls, state: ModelState) -> FittedPrior:
        return cls(state.arrays["rates"])


@register
class PriorFamily(ModelFamily):
    """Per-label positive rate ``(pos + smoothing) / (n + 2 * smoothing)``.

    Args:
        smoothing: additive smoothing; 1.0 is Laplace, 0 the raw rate.
    """

    name = "prior"
    fitted_class = FittedPrior

    def __init__(self, smoothing: float = 1.0) -> None:
        if smoothing < 0:
            raise ValueError(f"smoothing must be >= 0, got {smoothing}")
        super().__init__(smoothing=smoothing)
        self.smoothing = float(smoothing)

    def fit(
        self,
        X,
        Y,
        *,
        X_valid=None,
        Y_valid=None,
        deadline=None,
        seed=0,
        device="cpu",
        loss=None,
        Y_aux=None,
        groups=None,
    ):
        return FittedPrior(prior_probabilities(Y, self.smoothing))
