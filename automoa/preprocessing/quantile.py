"""Rank-gauss: scikit-learn's QuantileTransformer to a normal distribution."""

from __future__ import annotations

import numpy as np
from sklearn.preprocessing import QuantileTransformer

from automoa.preprocessing.base import Step, StepState
from automoa.preprocessing.groups import ALL, group_columns
from automoa.preprocessing.registry import register

DISTRIBUTIONS = ("normal", "uniform")


@register
class QuantileStep(Step):
    """Map columns to a normal (or uniform) distribution by their training-fold quantiles.

    Args:
        n_quantiles: number of quantiles (capped at the number of training rows).
        output_distribution: ``"normal"`` (rank-gauss) or ``"uniform"``.
        group: which columns: ``"all"``, a prefix (``"g-"``) or prefixes (``"g-,c-"``); the
            other columns pass through unchanged.
    """

    name = "quantile"

    def __init__(
        self, n_quantiles: int = 100, output_distribution: str = "normal", group: str = ALL
    ) -> None:
        if n_quantiles < 2:
            raise ValueError(f"n_quantiles must be >= 2, got {n_quantiles}")
        if output_distribution not in DISTRIBUTIONS:
            raise ValueError(f"output_distribution must be one of {DISTRIBUTIONS}")
        super().__init__(
            n_quantiles=n_quantiles, output_distribution=output_distribution, group=group
        )
        self.columns = np.zeros(0, dtype=int)
        self.transformer: QuantileTransformer | None = None

    def fit(self, X, Y, feature_names, *, seed=0):
        self.columns = group_columns(tuple(feature_names), self.params["group"])
        self.transformer = QuantileTransformer(
            n_quantiles=min(int(self.params["n_quantiles"]), X.shape[0]),
            output_distribution=self.params["output_distribution"],
            subsample=None,  # use every training row: the transform is exact and deterministic
        ).fit(X[:, self.columns])
        self._feature_names_out = tuple(feature_names)
        return self

    def transform(self, X):
        out = np.array(X, dtype=np.float32, copy=True)
        out[:, self.columns] = self.transformer.transform(X[:, self.columns])
        return out

    def state(self) -> StepState:
        state = super().state()
        state.arrays.update(
            columns=self.columns,
            quantiles=self.transformer.quantiles_,
            references=self.transformer.references_,
        )
        return state

    @classmethod
    def from_state(cls, state: StepState) -> QuantileStep:
        step = super().from_state(state)
        step.columns = state.arrays["columns"]
        quantiles = state.arrays["quantiles"]
        # Rebuild the fitted transformer from its two arrays (no pickle involved).
        transformer = QuantileTransformer(
            n_quantiles=quantiles.shape[0],
            output_distribution=state.params["output_distribution"],
        )
        transformer.quantiles_ = quantiles
        transformer.references_ = state.arrays["references"]
        transformer.n_features_in_ = quantiles.shape[1]
        step.transformer = transformer
        return step
