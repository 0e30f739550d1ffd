"""One fold's fitted pipeline: the preprocessing chain and the model fitted on its training rows.

Search produces these (one per fold of a trial) and a bundle predicts with them, so the class
lives below both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from automoa.models.base import FittedModel
from automoa.preprocessing.chain import FittedChain


@dataclass
class FoldModel:
    """A fitted preprocessing chain and model of one fold."""

    chain: FittedChain
    model: FittedModel

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Predict raw rows (the chain is applied first)."""
        return self.model.predict_proba(self.chain.transform(X))
