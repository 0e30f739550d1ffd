"""Standardisation: zero mean, unit variance per column (training-fold statistics)."""

from __future__ import annotations

import numpy as np

from automoa.preprocessing.base import Step, StepState
from automoa.preprocessing.registry import register


@register
class StandardizeStep(Step):
    """Centre each column and scale it to unit variance (constant columns are only centred)."""

    name = "standardize"

    def __init__(self) -> None:
        super().__init__()
        self.mean = np.zeros(0, dtype=np.float32)
        self.scale = np.ones(0, dtype=np.float32)

    def fit(self, X, Y, feature_names, *, seed=0):
        self.mean = X.mean(axis=0, dtype=np.float64).astype(np.float32)
        scale = X.std(axis=0, dtype=np.float64)
        self.scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        self._feature_names_out = tuple(feature_names)
        return self

    def transform(self, X):
        return ((X - self.mean) / self.scale).astype(np.float32, copy=False)

    def state(self) -> StepState:
        state = super().state()
        state.arrays.update(mean=self.mean, scale=self.scale)
        return state

    @classmethod
    def from_state(cls, state: StepState) -> StandardizeStep:
        step = super().from_state(state)
        step.mean, step.scale = state.arrays["mean"], state.arrays["scale"]
        return step
