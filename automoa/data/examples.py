"""Ready-made data: the bundled yeast set and the synthetic MoA-like generator."""

from __future__ import annotations

import dataclasses
import tempfile
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from automoa.data import validation as v
from automoa.data.dataset import Dataset
from automoa.data.io import load
from automoa.data.synthetic import make_moa_like

__all__ = ["load_yeast", "load_yeast_test_targets", "make_moa_like", "make_moa_like_dataset"]

_YEAST = "yeast"


def bundled_yeast_dir() -> Path:
    """The bundled yeast directory (generic layout with the official test split)."""
    # Installed packages are plain directories (no zip imports), so this is a real path.
    return Path(str(files("automoa.data.bundled") / _YEAST))


def load_yeast(include_test: bool = True) -> Dataset:
    """The bundled yeast data set (MULAN; Elisseeff & Weston 2001): 1500 train rows, 14 labels.

    Args:
        include_test: keep the 917 official test rows as ``X_test``/``test_ids``.

    Returns:
        The training data as a :class:`Dataset` named ``yeast``.
    """
    dataset = load(bundled_yeast_dir(), name=_YEAST)
    dataset = dataclasses.replace(dataset, source=f"bundled:{_YEAST}")
    if not include_test:
        dataset = dataclasses.replace(dataset, X_test=None, test_ids=None)
    return dataset


def load_yeast_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The bundled yeast data as DataFrames indexed by row id, for the estimator API.

    Returns:
        ``(X_train, Y_train, X_test, Y_test)``: 1500 training and 917 official test rows,
        103 features and 14 0/1 labels.
    """
    data = load_yeast()
    train_ids = pd.Index(data.ids, name=data.id_name)
    test_ids = pd.Index(data.test_ids, name=data.id_name)
    features, labels = list(data.feature_names), list(data.target_names)
    return (
        pd.DataFrame(data.X, index=train_ids, columns=features),
        pd.DataFrame(data.Y, index=train_ids, columns=labels),
        pd.DataFrame(data.X_test, index=test_ids, columns=features),
        pd.DataFrame(load_yeast_test_targets(data.test_ids), index=test_ids, columns=labels),
    )


def load_yeast_test_targets(test_ids: np.ndarray | None = None) -> np.ndarray:
    """The held-out yeast test labels, for evaluating predictions on ``load_yeast().X_test``.

    Args:
        test_ids: row order wanted; default the order of the bundled test file.

    Returns:
        uint8 array (n_test, 14).

    Raises:
        DataError: if a requested id is not a yeast test id.
    """
    path = bundled_yeast_dir() / "targets_test.csv"
    df = pd.read_csv(path, dtype={"id": str})
    ids = df["id"].to_numpy(dtype=str)
    Y = df.drop(columns=["id"]).to_numpy(dtype=np.uint8)
    if test_ids is None:
        return Y
    return Y[v.align_ids(np.asarray(test_ids, dtype=str), ids, "test_ids", path.name, "id")]


def make_moa_like_dataset(*, name: str = "moa_like", **kwargs: int) -> Dataset:
    """Generate :func:`make_moa_like` data in a temporary directory and load it.

    Going through the files (rather than building arrays directly) keeps the synthetic data
    exactly what a user loading the written directory would get.

    Args:
        name: dataset name.
        **kwargs: arguments of :func:`make_moa_like` (``rows``, ``targets``, ``seed``, ...).

    Returns:
        The loaded :class:`Dataset` (its ``source`` is ``synthetic:moa_like``).
    """
    with tempfile.TemporaryDirectory(prefix="automoa-moa-like-") as tmp:
        dataset = load(make_moa_like(tmp, **kwargs), name=name)
    return dataclasses.replace(dataset, source="synthetic:moa_like")
