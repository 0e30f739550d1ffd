"""Encoding of the Kaggle MoA categorical columns ``cp_type``, ``cp_time`` and ``cp_dose``.

``cp_type == "ctl_vehicle"`` marks control rows (all labels 0 by construction): it becomes the
known-negative mask and the column is dropped. ``cp_time`` becomes three 0/1 columns
``cp_time_24/48/72``; ``cp_dose`` becomes one 0/1 column ``cp_dose_D2``. Each column is
optional: a file without it is read as is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from automoa.data import validation as v

CP_TYPES = ("trt_cp", "ctl_vehicle")
CONTROL = "ctl_vehicle"
CP_TIMES = (24, 48, 72)
CP_DOSES = ("D1", "D2")
#: The categorical columns of the MoA features files, in file order.
MOA_COLUMNS = ("cp_type", "cp_time", "cp_dose")


def encode_moa_columns(df: pd.DataFrame, file: str) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Replace the MoA categorical columns by numeric ones, placed first.

    Args:
        df: features without the id column.
        file: file name, for messages.

    Returns:
        (the encoded features, the known-negative mask or None when there is no ``cp_type``).

    Raises:
        DataError: on a value outside the known categories.
    """
    encoded: dict[str, np.ndarray] = {}
    known_negative = None
    if "cp_type" in df.columns:
        v.check_allowed(df["cp_type"], file, "cp_type", CP_TYPES)
        known_negative = (df["cp_type"] == CONTROL).to_numpy(dtype=bool)
    if "cp_time" in df.columns:
        # numbers may come as 24, 24.0 or "24" depending on the file type
        times = pd.to_numeric(df["cp_time"], errors="coerce")
        bad = ~times.isin(CP_TIMES).to_numpy()
        if bad.any():
            v.check_allowed(df["cp_time"][bad], file, "cp_time", CP_TIMES)
        for t in CP_TIMES:
            encoded[f"cp_time_{t}"] = (times == t).to_numpy(dtype=np.float32)
    if "cp_dose" in df.columns:
        v.check_allowed(df["cp_dose"], file, "cp_dose", CP_DOSES)
        encoded["cp_dose_D2"] = (df["cp_dose"] == "D2").to_numpy(dtype=np.float32)
    present = [c for c in MOA_COLUMNS if c in df.columns]
    if not present:
        return df, known_negative
    rest = df.drop(columns=present)
    front = pd.DataFrame(encoded, index=df.index)
    return pd.concat([front, rest], axis=1), known_negative
