"""Missing values: median imputation plus missing-indicator columns, fitted on the training fold."""

from __future__ import annotations

import warnings

import numpy as np

from automoa.preprocessing.base import Step, StepState
from automoa.preprocessing.registry import register

#: Suffix of a missing-indicator column's name.
INDICATOR_SUFFIX = "__missing"


@register
class ImputeStep(Step):
    """Replace NaN by the training fold's column median, and flag where values were missing.

    A study whose features hold NaN gets this step first in every pipeline (bound at study
    creation, see :func:`automoa.spaces.bind_data`), so every later step and model sees finite
    numbers. The medians and the indicator columns come from the training fold's rows only:
    a column with no missing value in training gets no indicator, and a NaN that appears there
    later (validation, test or new rows) is still replaced by the median. A column missing in
    every training row is imputed with 0.

    Args:
        indicators: add a 0/1 column ``<name>__missing`` for each column with a missing value in
            the training rows (missingness often carries signal of its own).
    """

    name = "impute"

    def __init__(self, indicators: bool = True) -> None:
        super().__init__(indicators=bool(indicators))
        self.medians = np.zeros(0, dtype=np.float32)
        self.flagged = np.zeros(0, dtype=np.int64)

    def fit(self, X, Y, feature_names, *, seed=0):
        missing = np.isnan(X)
        with warnings.catch_warnings():  # an all-NaN column: its median is NaN, made 0 below
            warnings.simplefilter("ignore", RuntimeWarning)
            medians = np.nanmedian(X, axis=0) if missing.any() else np.median(X, axis=0)
        self.medians = np.nan_to_num(medians, nan=0.0).astype(np.float32)
        self.flagged = (
            np.flatnonzero(missing.any(axis=0))
            if self.params["indicators"]
            else np.zeros(0, dtype=np.int64)
        )
        names = tuple(feature_names)
        self._feature_names_out = names + tuple(
            f"{names[i]}{INDICATOR_SUFFIX}" for i in self.flagged
        )
        return self

    def transform(self, X):
        missing = np.isnan(X)
        out = np.where(missing, self.medians[None, :], X).astype(np.float32, copy=False)
        if self.flagged.size:
            flags = missing[:, self.flagged].astype(np.float32)
            out = np.hstack([out, flags])
        return np.ascontiguousarray(out, dtype=np.float32)

    def state(self) -> StepState:
        state = super().state()
        state.arrays["medians"] = self.medians
        state.arrays["flagged"] = self.flagged
        return state

    @classmethod
    def from_state(cls, state: StepState) -> ImputeStep:
        step = super().from_state(state)
        step.medians = state.arrays["medians"].astype(np.float32)
        step.flagged = state.arrays["flagged"].astype(np.int64)
        return step


def chain_imputes(step_names: list[str] | tuple[str, ...]) -> bool:
    """Whether a chain with these steps (in order) accepts missing values: it starts with
    :class:`ImputeStep`."""
    return bool(step_names) and step_names[0] == ImputeStep.name
