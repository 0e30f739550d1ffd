"""A chain of steps fitted on the training fold only, then applied to any rows."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from automoa.preprocessing.base import Step
from automoa.preprocessing.registry import get_step
from automoa.spaces.config import StepConfig


class FittedChain:
    """Steps fitted in order on training rows; :meth:`transform` applies them to new rows."""

    def __init__(self, steps: Sequence[Step], feature_names_out: tuple[str, ...]) -> None:
        self.steps = tuple(steps)
        self.feature_names_out = feature_names_out

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Apply the fitted steps to rows ``X``."""
        for step in self.steps:
            X = step.transform(X)
        return X


def fit_chain(
    configs: Sequence[StepConfig],
    X_train: np.ndarray,
    Y_train: np.ndarray | None,
    feature_names: tuple[str, ...],
) -> tuple[FittedChain, np.ndarray]:
    """Fit the configured steps on training rows.

    Args:
        configs: the steps, first to last.
        X_train: training-fold features only.
        Y_train: training-fold labels (for label-aware steps).
        feature_names: names of the columns of ``X_train``.

    Returns:
        The fitted chain and the transformed training features.
    """
    steps: list[Step] = []
    names = tuple(feature_names)
    X = X_train
    for config in configs:
        step = get_step(config.name)(**config.params).fit(X, Y_train, names)
        X = step.transform(X)
        names = step.feature_names_out
        steps.append(step)
    return FittedChain(steps, names), X
