"""Simple column-wise steps backed by scikit-learn: variance threshold, rank-gauss, scaling."""

from __future__ import annotations

import numpy as np
from sklearn.feature_selection import VarianceThreshold
from sklearn.preprocessing import QuantileTransformer, StandardScaler

from automoa.exceptions import PruneTrial
from automoa.preprocessing.base import Step
from automoa.preprocessing.registry import register


@register
class VarianceStep(Step):
    """Drop columns whose training-fold variance is at most ``threshold``.

    Args:
        threshold: variance threshold; a value that removes every column prunes the trial.
    """

    name = "variance"

    def __init__(self, threshold: float = 0.0) -> None:
        super().__init__(threshold=threshold)
        self._selector = VarianceThreshold(threshold=float(threshold))
        self._names_out: tuple[str, ...] = ()

    def fit(self, X, Y, feature_names):
        variances = X.var(axis=0)
        keep = variances > self.params["threshold"]
        if not keep.any():
            raise PruneTrial(
                f"prep.variance.threshold={self.params['threshold']:g} removes every column "
                f"(largest variance {variances.max():.4g})"
            )
        self._selector.fit(X)
        self._names_out = tuple(np.asarray(feature_names)[self._selector.get_support()])
        return self

    def transform(self, X):
        return self._selector.transform(X).astype(np.float32, copy=False)

    @property
    def feature_names_out(self):
        return self._names_out


@register
class QuantileStep(Step):
    """Rank-gauss: map each column to a normal distribution by its training quantiles.

    Args:
        n_quantiles: number of quantiles (capped at the number of training rows).
        output_distribution: ``"normal"`` (rank-gauss) or ``"uniform"``.
    """

    name = "quantile"

    def __init__(self, n_quantiles: int = 100, output_distribution: str = "normal") -> None:
        super().__init__(n_quantiles=n_quantiles, output_distribution=output_distribution)
        self._transformer: QuantileTransformer | None = None
        self._names_out: tuple[str, ...] = ()

    def fit(self, X, Y, feature_names):
        self._transformer = QuantileTransformer(
            n_quantiles=min(int(self.params["n_quantiles"]), X.shape[0]),
            output_distribution=self.params["output_distribution"],
            random_state=0,
        ).fit(X)
        self._names_out = tuple(feature_names)
        return self

    def transform(self, X):
        return self._transformer.transform(X).astype(np.float32, copy=False)

    @property
    def feature_names_out(self):
        return self._names_out


@register
class StandardizeStep(Step):
    """Centre each column and scale it to unit variance (training-fold statistics)."""

    name = "standardize"

    def __init__(self) -> None:
        super().__init__()
        self._scaler = StandardScaler()
        self._names_out: tuple[str, ...] = ()

    def fit(self, X, Y, feature_names):
        self._scaler.fit(X)
        self._names_out = tuple(feature_names)
        return self

    def transform(self, X):
        return self._scaler.transform(X).astype(np.float32, copy=False)

    @property
    def feature_names_out(self):
        return self._names_out
