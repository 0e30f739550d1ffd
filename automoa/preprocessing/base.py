"""The preprocessing Step contract: fitted on the training fold, applied to any rows."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np


class Step(ABC):
    """A fold-fitted feature transformation.

    Subclasses set :attr:`name`, take their parameters as keyword arguments (the names used in
    the search space), and implement :meth:`fit` and :meth:`transform`. ``fit`` only ever sees
    training-fold rows.

    Attributes:
        name: registry name, as written in search spaces.
    """

    name: ClassVar[str]

    def __init__(self, **params: Any) -> None:
        self.params = params

    @abstractmethod
    def fit(self, X: np.ndarray, Y: np.ndarray | None, feature_names: tuple[str, ...]) -> Step:
        """Fit on training rows; returns ``self``."""

    @abstractmethod
    def transform(self, X: np.ndarray) -> np.ndarray:
        """Transform rows with the fitted state; returns float32."""

    @property
    @abstractmethod
    def feature_names_out(self) -> tuple[str, ...]:
        """Column names after the transform."""
