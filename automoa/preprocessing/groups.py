"""Feature groups: columns selected by name prefix (``g-``, ``c-``), as the MoA data has them."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from automoa.data.summary import feature_prefix
from automoa.exceptions import PruneTrial

ALL = "all"


def group_columns(feature_names: tuple[str, ...], group: str) -> np.ndarray:
    """Indices of the columns of ``group``.

    Args:
        feature_names: the column names.
        group: ``"all"``, a name prefix (``"g-"``), or several separated by commas (``"g-,c-"``).

    Returns:
        Sorted column indices.

    Raises:
        PruneTrial: if the group matches no column (the trial cannot run on this data).
    """
    if group == ALL:
        return np.arange(len(feature_names))
    prefixes = tuple(p.strip() for p in group.split(",") if p.strip())
    selected = np.array([i for i, n in enumerate(feature_names) if n.startswith(prefixes)], int)
    if selected.size == 0:
        raise PruneTrial(f"feature group {group!r} matches no column of the data")
    return selected


def prefix_groups(feature_names: tuple[str, ...], min_size: int = 2) -> dict[str, np.ndarray]:
    """Columns grouped by :func:`~automoa.data.summary.feature_prefix`, groups of ``min_size``+."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, name in enumerate(feature_names):
        groups[feature_prefix(name)].append(index)
    return {g: np.array(ix) for g, ix in groups.items() if len(ix) >= min_size}
