"""Variance threshold: drop near-constant columns."""

from __future__ import annotations

import numpy as np

from automoa.exceptions import PruneTrial
from automoa.preprocessing.base import Step, StepState
from automoa.preprocessing.registry import register


@register
class VarianceStep(Step):
    """Drop columns whose training-fold variance is at most ``threshold``.

    Args:
        threshold: variance threshold (in the units of the step's input: after rank-gauss every
            column has variance ~1, so 0.5-0.9 removes only near-constant ones). A threshold
            that removes every column prunes the trial with the reason.
    """

    name = "variance"

    def __init__(self, threshold: float = 0.0) -> None:
        if threshold < 0:
            raise ValueError(f"threshold must be >= 0, got {threshold}")
        super().__init__(threshold=threshold)
        self.keep = np.zeros(0, dtype=bool)

    def fit(self, X, Y, feature_names, *, seed=0):
        variances = X.var(axis=0, dtype=np.float64)
        self.keep = variances > self.params["threshold"]
        if not self.keep.any():
            raise PruneTrial(
                f"prep.variance.threshold={self.params['threshold']:g} removes every column "
                f"(largest variance {variances.max():.4g})"
            )
        self._feature_names_out = tuple(np.asarray(feature_names)[self.keep])
        return self

    def transform(self, X):
        return np.ascontiguousarray(X[:, self.keep], dtype=np.float32)

    def state(self) -> StepState:
        state = super().state()
        state.arrays["keep"] = self.keep
        return state

    @classmethod
    def from_state(cls, state: StepState) -> VarianceStep:
        step = super().from_state(state)
        step.keep = state.arrays["keep"].astype(bool)
        return step
