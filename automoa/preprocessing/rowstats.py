"""Row statistics per feature group (mean, std, skew, kurtosis), appended as columns."""

from __future__ import annotations

import numpy as np
from scipy.stats import kurtosis, skew

from automoa.preprocessing.base import Step, StepState
from automoa.preprocessing.groups import group_columns, prefix_groups
from automoa.preprocessing.registry import register

STATS = ("mean_std", "all")
AUTO = "auto"


@register
class RowStatsStep(Step):
    """Append per-row statistics of each feature group.

    Args:
        group: ``"auto"`` (every name-prefix group of at least ``min_group_size`` columns, e.g.
            ``g-`` and ``c-`` on MoA), ``"all"``, or prefixes (``"g-,c-"``) as one group.
        stats: ``"mean_std"`` or ``"all"`` (mean, std, skew, kurtosis).
        min_group_size: smallest group ``auto`` keeps.
    """

    name = "rowstats"

    def __init__(self, group: str = AUTO, stats: str = "all", min_group_size: int = 5) -> None:
        if stats not in STATS:
            raise ValueError(f"stats must be one of {STATS}, got {stats!r}")
        super().__init__(group=group, stats=stats, min_group_size=min_group_size)
        self.groups: dict[str, np.ndarray] = {}

    def fit(self, X, Y, feature_names, *, seed=0):
        names = tuple(feature_names)
        group = self.params["group"]
        if group == AUTO:
            self.groups = prefix_groups(names, self.params["min_group_size"])
        else:
            self.groups = {group: group_columns(names, group)}
        if not self.groups:  # no group is large enough: one group of all columns
            self.groups = {"all": np.arange(len(names))}
        stats = ("mean", "std", "skew", "kurt")[: 2 if self.params["stats"] == "mean_std" else 4]
        self._feature_names_out = (
            *names,
            *(f"rowstats[{g}]_{s}" for g in self.groups for s in stats),
        )
        return self

    def transform(self, X):
        blocks = [X]
        for columns in self.groups.values():
            part = X[:, columns].astype(np.float64)
            cols = [part.mean(axis=1), part.std(axis=1)]
            if self.params["stats"] == "all":
                # Constant rows have no skew or kurtosis: 0 rather than NaN.
                cols += [
                    np.nan_to_num(skew(part, axis=1, bias=True)),
                    np.nan_to_num(kurtosis(part, axis=1, bias=True)),
                ]
            blocks.append(np.column_stack(cols))
        return np.hstack(blocks).astype(np.float32)

    def state(self) -> StepState:
        state = super().state()
        state.meta["groups"] = list(self.groups)
        state.arrays.update({f"group_{i}": c for i, c in enumerate(self.groups.values())})
        return state

    @classmethod
    def from_state(cls, state: StepState) -> RowStatsStep:
        step = super().from_state(state)
        step.groups = {g: state.arrays[f"group_{i}"] for i, g in enumerate(state.meta["groups"])}
        return step
