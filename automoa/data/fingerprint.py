"""A content hash of the training data, so a study can refuse data it was not created on.

Row order is part of the hash on purpose: folds are stored as row indices, so the same rows in
another order are different data for a study.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from automoa.data.dataset import Dataset

#: Bumped whenever the hashed content or encoding changes, so old and new hashes never collide.
_VERSION = b"automoa-data-fingerprint-v1"


def _update_array(h: hashlib._Hash, tag: bytes, arr: np.ndarray | None, dtype: type) -> None:
    """Hash a numeric array with its tag and shape (shape makes (2,3) and (3,2) differ)."""
    if arr is None:
        h.update(tag + b":none;")
        return
    data = np.ascontiguousarray(arr, dtype=dtype)
    h.update(tag + b":" + repr(data.shape).encode() + b":" + data.dtype.str.encode() + b";")
    h.update(data.tobytes())


def _update_strings(h: hashlib._Hash, tag: bytes, values: Iterable[object] | None) -> None:
    """Hash strings length-prefixed, so no separator character can create a collision."""
    if values is None:
        h.update(tag + b":none;")
        return
    encoded = [str(v).encode("utf-8") for v in values]
    h.update(tag + b":" + str(len(encoded)).encode() + b";")
    h.update(b"".join(len(e).to_bytes(4, "little") + e for e in encoded))


def fingerprint(
    X: np.ndarray,
    Y: np.ndarray,
    ids: Sequence[str] | np.ndarray,
    feature_names: Sequence[str],
    target_names: Sequence[str],
    *,
    groups: Sequence[str] | np.ndarray | None = None,
    known_negative: np.ndarray | None = None,
) -> str:
    """sha256 hex digest of the training data, in the given row order.

    Hashes X as float32 (C order), Y as uint8, the ids, feature and target names, the groups and
    the known-negative mask. Test features and auxiliary targets are not part of it: they do not
    change what a study's folds and scores mean.

    Args:
        X: (n, d) features.
        Y: (n, L) 0/1 targets.
        ids: n row ids.
        feature_names: d column names.
        target_names: L target names.
        groups: optional n group labels.
        known_negative: optional (n,) boolean mask.

    Returns:
        64-character lowercase hex string.
    """
    h = hashlib.sha256(_VERSION)
    _update_array(h, b"X", X, np.float32)
    _update_array(h, b"Y", Y, np.uint8)
    _update_strings(h, b"ids", ids)
    _update_strings(h, b"features", feature_names)
    _update_strings(h, b"targets", target_names)
    _update_strings(h, b"groups", groups)
    _update_array(h, b"known_negative", known_negative, np.bool_)
    return h.hexdigest()


def dataset_fingerprint(dataset: Dataset) -> str:
    """:func:`fingerprint` of a :class:`Dataset`'s training data (recomputed, not the stored one).

    Args:
        dataset: the data to hash.

    Returns:
        64-character lowercase hex string; equals ``dataset.fingerprint`` for loaded data.
    """
    return fingerprint(
        dataset.X,
        dataset.Y,
        dataset.ids,
        dataset.feature_names,
        dataset.target_names,
        groups=dataset.groups,
        known_negative=dataset.known_negative,
    )
