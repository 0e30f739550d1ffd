"""Writing named arrays as ``.npz`` that can be read back with ``allow_pickle=False``.

``np.savez`` pickles object arrays silently, and its own ``allow_pickle`` keyword arrived only in
numpy 2.x (on 1.26 it is saved as an array called ``allow_pickle``). This checks every array's
dtype instead, so no numpy version can write a pickle into a work directory or a bundle.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np


def save_npz(
    file: str | Path | IO[bytes], arrays: Mapping[str, Any], *, compressed: bool = False
) -> None:
    """Save ``arrays`` under their names, refusing any that would need a pickle.

    Args:
        file: A path or a binary file object.
        arrays: Array-likes by name.
        compressed: Use ``np.savez_compressed``.

    Raises:
        TypeError: An array has dtype ``object`` (it could only be stored as a pickle).
    """
    converted = {name: np.asarray(value) for name, value in arrays.items()}
    for name, array in converted.items():
        if array.dtype.hasobject:
            raise TypeError(f"array {name!r} has dtype {array.dtype}; it would need a pickle")
    (np.savez_compressed if compressed else np.savez)(file, **converted)
