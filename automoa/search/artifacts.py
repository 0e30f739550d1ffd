"""Trial artifacts (OOF and test prediction matrices) through Optuna's artifact store.

Writes are atomic: the file appears under its final name only once complete, so a crash never
leaves a half-written artifact that a reader could take for a whole one.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
import optuna
from optuna.artifacts import FileSystemArtifactStore, upload_artifact

from automoa.atomic import atomic_write

if TYPE_CHECKING:
    from automoa.search.objective import FoldModel


class AtomicFileSystemArtifactStore(FileSystemArtifactStore):
    """Optuna's file-system artifact store with write-to-temp-then-rename writes."""

    def __init__(self, base_path: str | Path) -> None:
        Path(base_path).mkdir(parents=True, exist_ok=True)
        super().__init__(base_path)
        self.base_path = Path(base_path)

    def write(self, artifact_id: str, content_body: BinaryIO) -> None:
        with atomic_write(self._get_filepath(artifact_id)) as out:
            while chunk := content_body.read(1 << 20):
                out.write(chunk)


def save_array(
    store: AtomicFileSystemArtifactStore,
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
    store: AtomicFileSystemArtifactStore,
    trial: optuna.Trial,
    fold_models: Sequence[FoldModel],
    info: Mapping[str, Any],
) -> str:
    """Save a trial's fitted fold models (see :mod:`automoa.bundle.archive`); returns the id."""
    from automoa.bundle.archive import save_fold_models  # the bundle package imports search

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fold_models.npz"
        save_fold_models(path, fold_models, info)
        return upload_artifact(
            artifact_store=store,
            file_path=str(path),
            study_or_trial=trial,
            mimetype="application/x-npz",
        )


def load_array(store: AtomicFileSystemArtifactStore, artifact_id: str) -> np.ndarray:
    """Load a ``.npy`` artifact saved by :func:`save_array`."""
    with store.open_reader(artifact_id) as reader:
        return np.load(io.BytesIO(reader.read()), allow_pickle=False)
