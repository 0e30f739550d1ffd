"""What a verified bundle declares, checked as untrusted input before anything is allocated.

The manifest's checksum has no key: anyone can change a bundle and seal it again. So the values
it declares are checked like any other input: the blend weights, the clip bounds, the names,
and the size of every array before it is read (a few compressed bytes can declare gigabytes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from automoa.exceptions import BundleError

#: Bytes any one array may declare, whatever the training data's size.
ARRAY_BYTES_FLOOR = 64 << 20
#: Further bytes per cell of the training data (rows x (features + targets)): a fitted state
#: (quantiles, components, weights, trees) is far smaller than 16 float32 copies of the data.
ARRAY_BYTES_PER_TRAINING_CELL = 64
#: How far the blend weights may sum from 1 (they are stored as JSON floats).
WEIGHT_SUM_TOLERANCE = 1e-6


def _names(manifest: Mapping[str, Any], key: str, where: Path) -> list[str]:
    names = manifest.get(key)
    if (
        not isinstance(names, list)
        or not names
        or not all(isinstance(n, str) for n in names)
        or len(set(names)) != len(names)
    ):
        raise BundleError(f"{where}: {key} must be a non-empty list of distinct names")
    return names


def check_manifest_values(manifest: Mapping[str, Any], where: Path) -> None:
    """Refuse declared values no export writes: the training size, names and blend weights.

    Args:
        manifest: a manifest whose checksums :func:`~automoa.bundle.manifest.read_verified`
            has verified.
        where: the manifest's path, for the message.

    Raises:
        BundleError: naming the first value out of range.
    """
    data = manifest.get("data")
    n_rows = data.get("n_rows") if isinstance(data, dict) else None
    if isinstance(n_rows, bool) or not isinstance(n_rows, int) or n_rows < 1:
        raise BundleError(f"{where}: data.n_rows must be a positive integer, got {n_rows!r}")
    _names(manifest, "feature_names", where)
    _names(manifest, "target_names", where)
    members = manifest.get("members")
    if not isinstance(members, list) or not members:
        raise BundleError(f"{where}: members must be a non-empty list")
    combiner = manifest.get("combiner")
    weights = combiner.get("weights") if isinstance(combiner, dict) else None
    if not isinstance(weights, list) or len(weights) != len(members):
        raise BundleError(f"{where}: combiner.weights must list one weight per member")
    numbers = [
        w if isinstance(w, (int, float)) and not isinstance(w, bool) else math.nan for w in weights
    ]
    if not all(math.isfinite(w) and w >= 0 for w in numbers) or not math.isclose(
        math.fsum(numbers), 1.0, abs_tol=WEIGHT_SUM_TOLERANCE
    ):
        raise BundleError(
            f"{where}: combiner.weights must be finite, non-negative and sum to 1, got {weights}"
        )


def array_byte_limit(manifest: Mapping[str, Any]) -> int:
    """The most bytes one array of this bundle may declare (see the module's constants)."""
    cells = manifest["data"]["n_rows"] * (
        len(manifest["feature_names"]) + len(manifest["target_names"])
    )
    return ARRAY_BYTES_FLOOR + ARRAY_BYTES_PER_TRAINING_CELL * cells
