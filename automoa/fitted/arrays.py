"""Reading one array of an untrusted ``.npz``, its declared size checked before it is allocated.

A few compressed bytes can declare gigabytes, so the header is read first and the array only
when it declares no more than the caller's limit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from automoa.exceptions import BundleError


def read_array(npz: Any, key: str, limit_bytes: int | None, where: str) -> np.ndarray:
    """``npz[key]``, after checking the size its header declares against ``limit_bytes``.

    Args:
        npz: an open ``np.load`` archive (``allow_pickle=False``).
        key: the array's name.
        limit_bytes: the most bytes it may declare (``None``: no limit).
        where: the file, for the message.

    Raises:
        BundleError: if it declares more, or its header is unreadable.
    """
    if limit_bytes is not None:
        try:
            with npz.zip.open(f"{key}.npy") as handle:
                version = np.lib.format.read_magic(handle)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
                else:
                    raise ValueError(f"array format version {version}")
        except KeyError:
            raise BundleError(f"{where}: array {key!r} is missing") from None
        declared = math.prod(int(n) for n in shape) * dtype.itemsize
        if declared > limit_bytes:
            raise BundleError(
                f"{where}: array {key!r} declares shape {tuple(shape)} "
                f"({declared / 2**20:.0f} MiB), more than the {limit_bytes / 2**20:.0f} MiB a "
                "model of its training data can hold"
            )
    return npz[key]
