"""Per-fold results of a running trial, saved as each fold finishes.

A trial whose worker dies is re-queued with the same parameters (see
:mod:`automoa.search.storage`); its retry finds the folds already done here and recomputes only
the missing ones. A fold's file holds its out-of-fold rows, its test predictions and its
duration; it is keyed by everything that determines them (data, folds, pipeline, seed), so any
trial with the same pipeline and seed may reuse it. They live in the study's artifact store
(``folds/KEY/fold-NN.npz``), so a retry on another machine finds them too; they are written
whole or not at all and removed once the trial is recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass

import numpy as np

from automoa.config import PipelineConfig
from automoa.npz import save_npz
from automoa.search.artifact_store import StudyArtifacts

#: Key prefix of the checkpoints in the artifact store.
CHECKPOINT_PREFIX = "folds"


@dataclass(frozen=True)
class FoldRecord:
    """One finished fold: its validation-row and test predictions, and how long it took."""

    oof_rows: np.ndarray
    test_pred: np.ndarray | None
    seconds: float


class FoldCheckpoints:
    """The per-fold files of one (data, folds, pipeline, seed) in an artifact store."""

    def __init__(self, artifacts: StudyArtifacts, key: str, n_folds: int) -> None:
        self.artifacts = artifacts
        self.key = key
        self.n_folds = n_folds

    @classmethod
    def for_trial(
        cls,
        artifacts: StudyArtifacts,
        data_key: str,
        fold_of: np.ndarray,
        config: PipelineConfig,
        seed: int,
    ) -> FoldCheckpoints:
        """Checkpoints keyed by the data, the fold assignment, the pipeline and the seed."""
        digest = hashlib.sha256(data_key.encode())
        digest.update(np.ascontiguousarray(fold_of, dtype=np.int16).tobytes())
        digest.update(json.dumps(config.to_dict(), sort_keys=True).encode())
        digest.update(str(seed).encode())
        return cls(artifacts, digest.hexdigest()[:32], int(fold_of.max()) + 1)

    def _name(self, fold: int) -> str:
        return f"{CHECKPOINT_PREFIX}/{self.key}/fold-{fold:02d}.npz"

    def load(self, fold: int, n_rows: int, n_labels: int) -> FoldRecord | None:
        """The fold's record, or ``None`` if absent or unreadable (it is then recomputed)."""
        try:
            content = self.artifacts.read_bytes(self._name(fold))
        except OSError:
            return None
        if content is None:
            return None
        try:
            with np.load(io.BytesIO(content), allow_pickle=False) as saved:
                oof_rows = saved["oof_rows"]
                test = saved["test_pred"] if "test_pred" in saved.files else None
                seconds = float(saved["seconds"])
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            return None
        if oof_rows.shape != (n_rows, n_labels):
            return None
        return FoldRecord(oof_rows, test, seconds)

    def save(self, fold: int, record: FoldRecord) -> None:
        """Store the fold's record (whole or not at all)."""
        arrays = {
            "oof_rows": record.oof_rows,
            "seconds": np.array(record.seconds),
        }
        if record.test_pred is not None:
            arrays["test_pred"] = record.test_pred
        buffer = io.BytesIO()
        save_npz(buffer, arrays)
        self.artifacts.write_bytes(self._name(fold), buffer.getvalue())

    def clear(self) -> None:
        """Remove the trial's files (its result is recorded elsewhere now)."""
        for fold in range(self.n_folds):
            self.artifacts.remove(self._name(fold))
        if not self.artifacts.remote:  # the emptied directory too
            with contextlib.suppress(OSError):
                (self.artifacts.store.base_path / CHECKPOINT_PREFIX / self.key).rmdir()
