"""Tiny hand-made tables in the Kaggle MoA and generic layouts, and a writer for them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

#: The shared MULAN conversions (/work/shared/datasets), read in place.
SHARED_DATASETS = Path(__file__).parents[2].parent / "shared" / "datasets"

Tables = dict[str, pd.DataFrame]
Writer = Callable[..., Path]


def _moa_tables() -> Tables:
    """12 training rows (2 controls, 4 drugs), 3 scored targets, 2 auxiliary, 4 test rows."""
    rng = np.random.default_rng(0)
    ids = [f"id_{i:03d}" for i in range(12)]
    cp_type = ["trt_cp"] * 12
    cp_type[0] = cp_type[6] = "ctl_vehicle"
    features = pd.DataFrame(
        {
            "sig_id": ids,
            "cp_type": cp_type,
            "cp_time": [24, 48, 72] * 4,
            "cp_dose": ["D1", "D2"] * 6,
            **{c: rng.normal(size=12).round(4) for c in ("g-0", "g-1", "g-2", "c-0", "c-1")},
        }
    )
    targets = pd.DataFrame({"sig_id": ids, "tA": 0, "tB": 0, "tC": 0})
    targets.loc[[1, 2, 3], "tA"] = 1
    targets.loc[[4, 5], "tB"] = 1
    targets.loc[[7], "tC"] = 1
    nonscored = pd.DataFrame({"sig_id": ids, "aux_x": 0, "aux_y": 0})
    nonscored.loc[[1, 9], "aux_x"] = 1
    drugs = ["ctl", "d1", "d1", "d1", "d2", "d2", "ctl", "d3", "d3", "d4", "d4", "d4"]
    test_ids = [f"te_{i}" for i in range(4)]
    test = pd.DataFrame(
        {
            "sig_id": test_ids,
            "cp_type": ["trt_cp", "ctl_vehicle", "trt_cp", "trt_cp"],
            "cp_time": [24, 48, 72, 24],
            "cp_dose": ["D2", "D1", "D2", "D1"],
            **{c: rng.normal(size=4).round(4) for c in ("g-0", "g-1", "g-2", "c-0", "c-1")},
        }
    )
    return {
        "train_features": features,
        "train_targets_scored": targets,
        "train_targets_nonscored": nonscored,
        "train_drug": pd.DataFrame({"sig_id": ids, "drug_id": drugs}),
        "test_features": test,
        "sample_submission": pd.DataFrame({"sig_id": test_ids, "tA": 0.5, "tB": 0.5, "tC": 0.5}),
    }


def _generic_tables() -> Tables:
    """6 training rows with 3 features and 2 targets, 2 test rows (MULAN conversion layout)."""
    ids = [f"ex_{i}" for i in range(6)]
    features = pd.DataFrame(
        {
            "id": ids,
            "f1": [0.5, 1.5, -2.0, 3.25, 0.0, 1.0],
            "f2": [1, 2, 3, 4, 5, 6],
            "f3": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        }
    )
    targets = pd.DataFrame({"id": ids, "y1": [1, 0, 1, 0, 1, 0], "y2": [0, 0, 1, 1, 0, 0]})
    test = pd.DataFrame({"id": ["t_0", "t_1"], "f1": [1.0, 2.0], "f2": [7, 8], "f3": [0.7, 0.8]})
    return {"features": features, "targets": targets, "features_test": test}


def write_table(df: pd.DataFrame, path: Path) -> Path:
    """Write ``df`` as CSV (gzipped for ``.csv.gz``) or parquet, by the file extension."""
    if path.name.endswith(".parquet"):
        df.to_parquet(path, index=False)
    else:
        df.to_csv(path, index=False)  # pandas gzips by extension
    return path


def write_tables(directory: Path, tables: Tables, ext: str = ".csv") -> Path:
    """Write each table as ``directory/<name><ext>``; return the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        write_table(df, directory / f"{name}{ext}")
    return directory


@pytest.fixture
def moa_tables() -> Tables:
    """A fresh copy of the tiny MoA tables (tests may mutate them)."""
    return _moa_tables()


@pytest.fixture
def generic_tables() -> Tables:
    """A fresh copy of the tiny generic tables."""
    return _generic_tables()


@pytest.fixture
def moa_dir(tmp_path: Path, moa_tables: Tables) -> Path:
    """The tiny MoA tables written as plain CSV in ``tmp_path/moa``."""
    return write_tables(tmp_path / "moa", moa_tables)


@pytest.fixture
def generic_dir(tmp_path: Path, generic_tables: Tables) -> Path:
    """The tiny generic tables written as plain CSV in ``tmp_path/generic``."""
    return write_tables(tmp_path / "generic", generic_tables)


@pytest.fixture
def write() -> Callable[[Path, Tables, str], Path]:
    """``write(directory, tables, ext=".csv")``: write tables into a directory."""
    return write_tables


@pytest.fixture
def write_one() -> Callable[[pd.DataFrame, Path], Path]:
    """``write_one(df, path)``: write one table, format by extension."""
    return write_table


@pytest.fixture
def shared_datasets() -> Path:
    """Directory of the shared MULAN conversions (yeast, scene, emotions)."""
    return SHARED_DATASETS
