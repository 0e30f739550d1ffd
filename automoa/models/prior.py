"""The ``prior`` family: each label predicted with its (smoothed) training rate.

This is the constant baseline every report compares to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from automoa.metrics import prior_probabilities
from automoa.models.base import FittedModel, ModelFamily, ModelState
from automoa.models.registry import register

if TYPE_CHECKING:
    from automoa.models.fit_context import FitContext


class FittedPrior(FittedModel):
    """Constant per-label probabilities.

    Attributes:
        rates: float32 probability of each label the model was fitted on.
    """

    def __init__(self, rates: np.ndarray) -> None:
        self.rates = np.asarray(rates, dtype=np.float32)

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.tile(self.rates, (len(X), 1))

    def state(self) -> ModelState:
        # The format holds every label's rate and no constant-label arrays.
        rates = self.rates if self.constant is None else self.constant.splice(self.rates)
        return ModelState("prior", {}, {"rates": rates})

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
        # Constant labels get this family's own rate, like every other label.
        self.prior_smoothing = self.smoothing

    def _fit(self, X: np.ndarray, Y: np.ndarray, ctx: FitContext) -> FittedPrior:
        return FittedPrior(prior_probabilities(Y, self.smoothing))
