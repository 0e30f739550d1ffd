"""PCA of a feature group, appended to (or replacing) the group's raw columns."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
from sklearn.decomposition import PCA

from automoa.exceptions import PruneTrial
from automoa.params import ConstantParam, IntParam, ParamSpec
from automoa.preprocessing.base import Step, StepState
from automoa.preprocessing.groups import ALL, group_columns
from automoa.preprocessing.registry import register

MODES = ("append", "replace")


@register
class PCAStep(Step):
    """Principal components of one feature group (the MoA recipe: genes 50-600, cells 15-60).

    Use the step twice with ids (``pca_genes`` with ``group: g-``, ``pca_cells`` with
    ``group: c-``) for per-group component counts. :meth:`bind` caps ``n_components`` at what
    the data allows (the group's column count and the training rows), so the search never
    samples an impossible count.

    Args:
        group: the columns: ``"all"``, a prefix (``"g-"``) or prefixes (``"g-,c-"``).
        n_components: number of components (capped at the group's size at fit time too).
        mode: ``"append"`` the components to all columns, or ``"replace"`` the group's columns.
    """

    name = "pca"

    def __init__(self, group: str = ALL, n_components: int = 10, mode: str = "append") -> None:
        if n_components < 1:
            raise ValueError(f"n_components must be >= 1, got {n_components}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        super().__init__(group=group, n_components=n_components, mode=mode)
        self.columns = np.zeros(0, dtype=int)
        self.keep = np.zeros(0, dtype=int)
        self.mean = np.zeros(0, dtype=np.float32)
        self.components = np.zeros((0, 0), dtype=np.float32)

    def fit(self, X, Y, feature_names, *, seed=0):
        names = tuple(feature_names)
        self.columns = group_columns(names, self.params["group"])
        n = min(int(self.params["n_components"]), len(self.columns), X.shape[0])
        pca = PCA(n_components=n, random_state=seed).fit(X[:, self.columns])
        self.mean = pca.mean_.astype(np.float32)
        self.components = pca.components_.astype(np.float32)
        keep = np.arange(X.shape[1])
        if self.params["mode"] == "replace":
            keep = np.setdiff1d(keep, self.columns)
        self.keep = keep
        label = self.params["group"].replace(",", "+")
        self._feature_names_out = (
            *(names[i] for i in keep),
            *(f"pca[{label}]_{j}" for j in range(n)),
        )
        return self

    def transform(self, X):
        scores = (X[:, self.columns] - self.mean) @ self.components.T
        return np.hstack([X[:, self.keep], scores]).astype(np.float32, copy=False)

    def state(self) -> StepState:
        state = super().state()
        state.arrays.update(
            columns=self.columns, keep=self.keep, mean=self.mean, components=self.components
        )
        return state

    @classmethod
    def from_state(cls, state: StepState) -> PCAStep:
        step = super().from_state(state)
        for name in ("columns", "keep", "mean", "components"):
            setattr(step, name, state.arrays[name])
        return step

    @classmethod
    def bind(
        cls, params: Mapping[str, ParamSpec], feature_names: tuple[str, ...], n_train_rows: int
    ) -> Mapping[str, ParamSpec]:
        """Cap ``n_components`` at the group's column count and the training rows."""
        group = params.get("group", ConstantParam(ALL))
        spec = params.get("n_components")
        if not isinstance(group, ConstantParam) or spec is None:
            return params
        try:
            cap = min(len(group_columns(feature_names, str(group.value))), n_train_rows)
        except PruneTrial:  # the group matches nothing: trials will be pruned with the reason
            return params
        bound = dict(params)
        if isinstance(spec, IntParam) and spec.high > cap:
            low = min(spec.low, cap)
            bound["n_components"] = replace(
                spec, low=low, high=cap, default=min(max(spec.default, low), cap), step=1
            )
        elif isinstance(spec, ConstantParam) and isinstance(spec.value, int):
            bound["n_components"] = ConstantParam(min(spec.value, cap))
        return bound
