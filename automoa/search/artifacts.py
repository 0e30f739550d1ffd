"""Trial artifacts (OOF and test prediction matrices, fold models) in Optuna's artifact store.

The store is any of :mod:`automoa.search.artifact_store`'s (a directory or an object store);
writes never leave a half-written artifact that a reader could take for a whole one.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.artifacts import upload_artifact

from automoa.fitted import FoldModel, save_fold_models


def save_array(
    store: Any,
    trial: optuna.Trial,
    array: np.ndarray,
    name: str,
) -> str:
    """Save ``array`` as a ``.npy`` artifact of ``trial``; returns the artifact id."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.npy"
        np.save(path, array, allow_pickle=False)
        return upload_artifact(
            artifact_store=store,
            file_path=str(path),
            study_or_trial=trial,
            mimetype="application/x-npy",
        )


def save_fold_models_artifact(
    store: Any,
    trial: optuna.Trial,
    fold_models: Sequence[FoldModel],
    info: Mapping[str, Any],
) -> str:
    """Save a trial's fitted fold models (see :mod:`automoa.fitted.archive`); returns the id."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fold_models.npz"
        save_fold_models(path, fold_models, info)
        return upload_artifact(
            artifact_store=store,
            file_path=str(path),
            study_or_trial=trial,
            mimetype="application/x-npz",
        )


def load_array(store: Any, artifact_id: str) -> np.ndarray:
    """Load a ``.npy`` artifact saved by :func:`save_array`."""
    with store.open_reader(artifact_id) as reader:
        return np.load(io.BytesIO(reader.read()), allow_pickle=False)
