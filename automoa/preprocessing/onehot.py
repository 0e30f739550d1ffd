"""Categorical encoding: one-hot columns with few distinct integer values."""

from __future__ import annotations

import numpy as np

from automoa.preprocessing.base import Step, StepState
from automoa.preprocessing.registry import register


@register
class OneHotStep(Step):
    """One-hot encode integer-valued columns with 3 to ``max_levels`` distinct training values.

    Binary columns are already an encoding and stay as they are. Values unseen in the training
    fold encode as all zeros.

    Args:
        max_levels: largest number of distinct values a column may have to be encoded.
        drop_original: drop the encoded columns (else keep them beside their one-hot columns).
    """

    name = "onehot"

    def __init__(self, max_levels: int = 10, drop_original: bool = True) -> None:
        if max_levels < 3:
            raise ValueError(f"max_levels must be >= 3, got {max_levels}")
        super().__init__(max_levels=max_levels, drop_original=drop_original)
        self.columns = np.zeros(0, dtype=int)
        self.levels: list[np.ndarray] = []
        self.keep = np.zeros(0, dtype=int)

    def fit(self, X, Y, feature_names, *, seed=0):
        columns, levels = [], []
        for j in range(X.shape[1]):
            values = np.unique(X[:, j])
            if 3 <= len(values) <= self.params["max_levels"] and np.all(values == np.round(values)):
                columns.append(j)
                levels.append(values.astype(np.float32))
        self.columns = np.array(columns, dtype=int)
        self.levels = levels
        keep = np.arange(X.shape[1])
        if self.params["drop_original"]:
            keep = np.setdiff1d(keep, self.columns)
        self.keep = keep
        names = tuple(feature_names)
        self._feature_names_out = (
            *(names[i] for i in keep),
            *(f"{names[j]}={v:g}" for j, vals in zip(columns, levels, strict=True) for v in vals),
        )
        return self

    def transform(self, X):
        encoded = [
            (X[:, j][:, None] == values[None, :])
            for j, values in zip(self.columns, self.levels, strict=True)
        ]
        return np.hstack([X[:, self.keep], *encoded]).astype(np.float32)

    def state(self) -> StepState:
        state = super().state()
        state.arrays.update(columns=self.columns, keep=self.keep)
        state.arrays.update({f"levels_{i}": v for i, v in enumerate(self.levels)})
        return state

    @classmethod
    def from_state(cls, state: StepState) -> OneHotStep:
        step = super().from_state(state)
        step.columns, step.keep = state.arrays["columns"], state.arrays["keep"]
        step.levels = [state.arrays[f"levels_{i}"] for i in range(len(step.columns))]
        return step
