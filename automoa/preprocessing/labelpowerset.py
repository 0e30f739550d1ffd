"""Label-powerset resamplers on imbalanced-learn: LP-ROS, LP-RUS (Charte et al., Neurocomputing
163, 2015) and SMOTE on label sets.

Each distinct row of the training fold's labels (its *label set*) is one class of a single-label
problem, so imbalanced-learn's samplers apply: a synthetic or cloned row carries a label set
that really occurs, never a mix. With one label, the label sets are that label's two classes:
the single-label path is imbalanced-learn's samplers applied directly.

Which label sets are resampled, and by how much (the paper's rule, over the training fold's
``n`` rows and the mean label-set size ``m``):

- **LP-ROS** (``lp_oversample``) adds ``round(percentage * n)`` clones. *Minority* label sets
  (fewer than ``m`` rows) take turns, one clone each per turn, until the clones are spent or
  every minority set has ``m`` rows (capped at ``(1 + max_repeats) x`` its size). imbalanced-
  learn's ``RandomOverSampler`` draws the clones.
- **LP-SMOTE** (``lp_smote``): the same counts, for minority sets with more than ``k`` rows
  (SMOTE needs ``k`` neighbours within the set), drawn by imbalanced-learn's ``SMOTE``: new
  rows interpolated between a row and one of its ``k`` nearest neighbours of the same set.
- **LP-RUS** (``lp_undersample``) removes ``round(percentage * n)`` rows: *majority* label sets
  (more than ``m`` rows) lose one row each per turn until the removals are spent or every
  majority set is down to ``m``. imbalanced-learn's ``RandomUnderSampler`` picks the rows; the
  rows kept stay in their order (see :meth:`automoa.preprocessing.base.Step.kept_rows`).

Undersampling shifts the label priors the model learns, so its log loss on unresampled rows is
usually worse; it is offered because users of this field reach for it, and the benchmark says
what it does (``benchmarks/README.md``).
"""

from __future__ import annotations

import numpy as np

from automoa.preprocessing.base import Step
from automoa.preprocessing.registry import register
from automoa.preprocessing.resampler_inputs import check_int, check_resample_inputs

__all__ = [
    "LabelPowersetOversampleStep",
    "LabelPowersetSMOTEStep",
    "LabelPowersetUndersampleStep",
    "label_sets",
    "turn_taking_counts",
]


def label_sets(Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's label-set class, the rows per class, and one row of each class.

    Returns:
        ``(classes, counts, first_rows)``: an int64 class per row (classes numbered in the
        order of ``np.unique`` over the rows), the rows of each class, and the first row of
        each class (whose labels are the class's label set).
    """
    _, first_rows, classes, counts = np.unique(
        Y, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    return (
        classes.reshape(-1).astype(np.int64),
        counts.astype(np.int64),
        first_rows.astype(np.int64),
    )


def turn_taking_counts(limits: np.ndarray, total: int) -> np.ndarray:
    """Spread ``total`` unit changes over classes in turns: one per class per turn, a class
    stopping at its limit; the last, partial turn goes to the first classes by index.

    Args:
        limits: the most changes each class may take (0: not a candidate).
        total: the changes to spread.

    Returns:
        The changes per class (int64), summing to ``min(total, limits.sum())``.
    """
    limits = np.maximum(np.asarray(limits, dtype=np.int64), 0)
    total = int(min(total, limits.sum()))
    # Water-filling: the level t such that sum(min(limits, t)) <= total, then one more turn for
    # the first classes (by index) that still have room.
    low, high = 0, int(limits.max(initial=0))
    while low < high:
        mid = (low + high + 1) // 2
        if np.minimum(limits, mid).sum() <= total:
            low = mid
        else:
            high = mid - 1
    changes = np.minimum(limits, low)
    left = total - int(changes.sum())
    room = np.flatnonzero(changes < limits)
    changes[room[:left]] += 1
    return changes


def _check_percentage(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValueError(f"percentage must be a number in (0, 1], got {value!r}")
    return float(value)


class _LabelPowersetStep(Step):
    """Shared parameters and checks of the label-powerset resamplers."""

    resamples = True
    supervised = True

    def _classes(
        self, X: np.ndarray, Y: np.ndarray, feature_names: tuple[str, ...]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        Xf, Yb = check_resample_inputs(X, Y, feature_names)
        self._feature_names_out = tuple(feature_names)
        return Xf, Yb, *label_sets(Yb)

    def _oversampling_targets(self, counts: np.ndarray, n: int, min_rows: int) -> dict[int, int]:
        """Rows wanted per minority label set (LP-ROS's rule), for sets with ``min_rows``+."""
        mean = counts.mean()
        eligible = (counts < mean) & (counts >= min_rows)
        room = np.where(eligible, np.ceil(mean) - counts, 0)
        room = np.minimum(room, counts * self.params["max_repeats"]).astype(np.int64)
        added = turn_taking_counts(room, round(self.params["percentage"] * n))
        return {int(c): int(counts[c] + added[c]) for c in np.flatnonzero(added)}


@register
class LabelPowersetOversampleStep(_LabelPowersetStep):
    """LP-ROS: clone rows of minority label sets (see the module docstring).

    Args:
        percentage: clones to add, as a share of the training rows (in (0, 1]).
        max_repeats: a label set grows to at most ``1 + max_repeats`` times its size.
    """

    name = "lp_oversample"

    def __init__(self, percentage: float = 0.25, max_repeats: int = 5) -> None:
        super().__init__(
            percentage=_check_percentage(percentage),
            max_repeats=check_int("max_repeats", max_repeats, 1),
        )

    def fit_resample(
        self, X: np.ndarray, Y: np.ndarray, feature_names: tuple[str, ...], *, seed: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """The training rows, then the clones (float32, uint8)."""
        from imblearn.over_sampling import RandomOverSampler

        Xf, Yb, classes, counts, _ = self._classes(X, Y, feature_names)
        targets = self._oversampling_targets(counts, len(Xf), min_rows=1)
        if not targets:
            return Xf, Yb
        sampler = RandomOverSampler(sampling_strategy=targets, random_state=seed)
        sampler.fit_resample(Xf, classes)
        clones = sampler.sample_indices_[len(Xf) :]
        return np.concatenate([Xf, Xf[clones]]), np.concatenate([Yb, Yb[clones]])


@register
class LabelPowersetSMOTEStep(_LabelPowersetStep):
    """SMOTE on label sets: interpolate new rows within minority label sets (module docstring).

    Args:
        percentage: rows to add, as a share of the training rows (in (0, 1]).
        max_repeats: a label set grows to at most ``1 + max_repeats`` times its size.
        k: neighbours within the label set (only sets with more than ``k`` rows grow).
    """

    name = "lp_smote"

    def __init__(self, percentage: float = 0.25, max_repeats: int = 5, k: int = 5) -> None:
        super().__init__(
            percentage=_check_percentage(percentage),
            max_repeats=check_int("max_repeats", max_repeats, 1),
            k=check_int("k", k, 1),
        )

    def fit_resample(
        self, X: np.ndarray, Y: np.ndarray, feature_names: tuple[str, ...], *, seed: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """The training rows, then the synthetic rows (float32, uint8)."""
        from imblearn.over_sampling import SMOTE

        Xf, Yb, classes, counts, first_rows = self._classes(X, Y, feature_names)
        k = self.params["k"]
        targets = self._oversampling_targets(counts, len(Xf), min_rows=k + 1)
        if not targets:
            return Xf, Yb
        sampler = SMOTE(sampling_strategy=targets, k_neighbors=k, random_state=seed)
        X_res, classes_res = sampler.fit_resample(Xf, classes)
        n = len(Xf)
        # SMOTE returns the input rows first, then the new rows with their label-set class.
        Y_new = Yb[first_rows[np.asarray(classes_res[n:], dtype=np.int64)]]
        return (
            np.concatenate([Xf, np.asarray(X_res[n:], dtype=np.float32)]),
            np.concatenate([Yb, Y_new]),
        )


@register
class LabelPowersetUndersampleStep(_LabelPowersetStep):
    """LP-RUS: drop rows of majority label sets (see the module docstring).

    Args:
        percentage: rows to remove, as a share of the training rows (in (0, 1]).
    """

    name = "lp_undersample"

    def __init__(self, percentage: float = 0.1) -> None:
        super().__init__(percentage=_check_percentage(percentage))
        self._kept: np.ndarray | None = None

    def fit_resample(
        self, X: np.ndarray, Y: np.ndarray, feature_names: tuple[str, ...], *, seed: int = 0
    ) -> tuple[np.ndarray, np.ndarray]:
        """The rows kept, in their input order (float32, uint8)."""
        from imblearn.under_sampling import RandomUnderSampler

        Xf, Yb, classes, counts, _ = self._classes(X, Y, feature_names)
        mean = counts.mean()
        room = np.where(counts > mean, counts - np.ceil(mean), 0).astype(np.int64)
        removed = turn_taking_counts(room, round(self.params["percentage"] * len(Xf)))
        targets = {int(c): int(counts[c] - removed[c]) for c in np.flatnonzero(removed)}
        if not targets:
            self._kept = np.arange(len(Xf))
            return Xf, Yb
        sampler = RandomUnderSampler(sampling_strategy=targets, random_state=seed)
        sampler.fit_resample(Xf, classes)
        self._kept = np.sort(sampler.sample_indices_).astype(np.int64)
        return Xf[self._kept], Yb[self._kept]

    def kept_rows(self) -> np.ndarray | None:
        """The sorted indices of the input rows kept by the last :meth:`fit_resample`."""
        return self._kept
