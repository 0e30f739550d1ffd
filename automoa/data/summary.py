"""A summary of a :class:`Dataset` for ``automoa data`` and reports."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from automoa.data.dataset import Dataset
from automoa.data.moa import MOA_COLUMNS

#: Labels with fewer positives than this are "rare" (MoA: 53 of 206 labels have at most 20).
RARE_THRESHOLD = 20
_MAX_RARE_NAMES = 10
_PREFIX = re.compile(r"^([^-_]+-|[^-_]+(?=_))")


def feature_prefix(name: str) -> str:
    """The group a feature column belongs to, from its name.

    ``attr=value`` (one-hot) -> ``attr``; the encoded MoA columns ``cp_time_24`` / ``cp_dose_D2``
    -> ``cp_time`` / ``cp_dose``; ``g-12`` -> ``g-``; ``Mean_Acc_MFCC_0`` -> ``Mean`` (the part
    before the first ``_``); ``Att17`` -> ``Att`` (trailing digits removed); else the name.
    """
    if "=" in name:
        return name.split("=", 1)[0]
    for column in MOA_COLUMNS:
        if name.startswith(column + "_"):
            return column
    match = _PREFIX.match(name)
    if match:
        return match.group(1)
    return name.rstrip("0123456789") or name


@dataclass(frozen=True)
class DataSummary:
    """Shape and label statistics of a :class:`Dataset` (see :func:`describe`)."""

    name: str
    rows: int
    test_rows: int
    features: int
    feature_groups: tuple[tuple[str, int], ...]
    labels: int
    positives_min: int
    positives_median: float
    positives_max: int
    positive_rate: float
    rare_labels: int
    rare_label_examples: tuple[tuple[str, int], ...]
    labels_without_positive: tuple[str, ...]
    known_negative_rows: int
    groups: int | None
    group_size_min: int | None
    group_size_median: float | None
    group_size_max: int | None
    aux_targets: int
    fingerprint: str
    missing_values: int = 0
    columns_with_missing: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (lists instead of tuples, ``{name: count}`` mappings)."""
        out = dataclasses.asdict(self)
        out["feature_groups"] = dict(self.feature_groups)
        out["rare_label_examples"] = dict(self.rare_label_examples)
        out["labels_without_positive"] = list(self.labels_without_positive)
        return out

    def to_lines(self) -> list[str]:
        """Human-readable lines, one fact per line, for the CLI."""
        groups = ", ".join(f"{p} {n}" for p, n in self.feature_groups)
        lines = [
            f"data: {self.name} (fingerprint {self.fingerprint[:12]})",
            f"rows: {self.rows} train, {self.test_rows} test",
            f"features: {self.features} ({groups})",
            f"labels: {self.labels}; positives per label min {self.positives_min}, median "
            f"{self.positives_median:g}, max {self.positives_max}; positive rate "
            f"{100 * self.positive_rate:.3f}%",
        ]
        rare = f"rare labels (< {RARE_THRESHOLD} positives): {self.rare_labels}"
        if self.rare_label_examples:
            shown = ", ".join(f"{n} ({c})" for n, c in self.rare_label_examples)
            more = ", ..." if self.rare_labels > len(self.rare_label_examples) else ""
            rare += f": {shown}{more}"
        lines.append(rare)
        if self.labels_without_positive:
            lines.append(
                f"labels with no positive: {len(self.labels_without_positive)} "
                f"({', '.join(self.labels_without_positive[:_MAX_RARE_NAMES])}"
                f"{', ...' if len(self.labels_without_positive) > _MAX_RARE_NAMES else ''})"
            )
        lines.append(f"known-negative rows: {self.known_negative_rows}")
        if self.groups is not None:
            lines.append(
                f"groups: {self.groups}; rows per group min {self.group_size_min}, median "
                f"{self.group_size_median:g}, max {self.group_size_max}"
            )
        else:
            lines.append("groups: none")
        lines.append(f"auxiliary targets: {self.aux_targets}")
        if self.missing_values:
            lines.append(
                f"missing values: {self.missing_values} in {self.columns_with_missing} feature "
                "columns (imputed in every pipeline: training-fold medians plus indicators)"
            )
        else:
            lines.append("missing values: none")
        return lines


def describe(dataset: Dataset) -> DataSummary:
    """Summarise a dataset: sizes, feature groups, label imbalance, controls, groups.

    Positives and the positive rate count every training row, known-negative rows included
    (they are all-zero rows, as in the metric's convention).

    Args:
        dataset: the data.

    Returns:
        A frozen :class:`DataSummary`.
    """
    positives = dataset.Y.sum(axis=0, dtype=np.int64)
    names = dataset.target_names
    order = np.argsort(positives, kind="stable")
    rare = [j for j in order if positives[j] < RARE_THRESHOLD]
    group_stats: tuple[int | None, int | None, float | None, int | None] = (None,) * 4
    if dataset.groups is not None:
        sizes = np.array(sorted(Counter(dataset.groups.tolist()).values()))
        group_stats = (sizes.size, int(sizes.min()), float(np.median(sizes)), int(sizes.max()))
    prefixes = Counter(feature_prefix(f) for f in dataset.feature_names)
    cells = dataset.Y.size
    missing = np.isnan(dataset.X).sum(axis=0)
    if dataset.X_test is not None:
        missing = missing + np.isnan(dataset.X_test).sum(axis=0)
    return DataSummary(
        name=dataset.name,
        rows=dataset.n_rows,
        test_rows=0 if dataset.X_test is None else int(dataset.X_test.shape[0]),
        features=dataset.n_features,
        feature_groups=tuple(prefixes.items()),
        labels=dataset.n_labels,
        positives_min=int(positives.min()) if positives.size else 0,
        positives_median=float(np.median(positives)) if positives.size else 0.0,
        positives_max=int(positives.max()) if positives.size else 0,
        positive_rate=float(positives.sum() / cells) if cells else 0.0,
        rare_labels=len(rare),
        rare_label_examples=tuple((names[j], int(positives[j])) for j in rare[:_MAX_RARE_NAMES]),
        labels_without_positive=tuple(names[j] for j in np.flatnonzero(positives == 0)),
        known_negative_rows=0
        if dataset.known_negative is None
        else int(np.count_nonzero(dataset.known_negative)),
        groups=group_stats[0],
        group_size_min=group_stats[1],
        group_size_median=group_stats[2],
        group_size_max=group_stats[3],
        aux_targets=0 if dataset.Y_aux is None else int(dataset.Y_aux.shape[1]),
        fingerprint=dataset.fingerprint,
        missing_values=int(missing.sum()),
        columns_with_missing=int(np.count_nonzero(missing)),
    )
