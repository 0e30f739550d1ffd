"""Per-fold results of a running trial, saved as each fold finishes.

A trial whose worker dies is re-queued with the same parameters (see
:mod:`automoa.search.storage`); its retry finds the folds already done here and recomputes only
the missing ones. A fold's file holds its out-of-fold rows, its test predictions and its
duration; it is keyed by everything that determines them (data, folds, pipeline, seed), so any
trial with the same pipeline and seed may reuse it. Files are written atomically (temporary
file, then rename) and removed once the trial is recorded.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from automoa.atomic import atomic_write
from automoa.spaces.config import PipelineConfig


@dataclass(frozen=True)
class FoldRecord:
    """One finished fold: its validation-row and test predictions, and how long it took."""

    oof_rows: np.ndarray
    test_pred: np.ndarray | None
    seconds: float


class FoldCheckpoints:
    """The per-fold files of one (data, folds, pipeline, seed) in ``root``."""

    def __init__(self, root: str | Path, key: str) -> None:
        self.directory = Path(root) / key

    @classmethod
    def for_trial(
        cls,
        root: str | Path,
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
        return cls(root, digest.hexdigest()[:32])

    def _path(self, fold: int) -> Path:
        return self.directory / f"fold-{fold:02d}.npz"

    def load(self, fold: int, n_rows: int, n_labels: int) -> FoldRecord | None:
        """The fold's record, or ``None`` if absent or unreadable (it is then recomputed)."""
        path = self._path(fold)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as saved:
                oof_rows = saved["oof_rows"]
                test = saved["test_pred"] if "test_pred" in saved.files else None
                seconds = float(saved["seconds"])
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            return None
        if oof_rows.shape != (n_rows, n_labels):
            return None
        return FoldRecord(oof_rows, test, seconds)

    def save(self, fold: int, record: FoldRecord) -> None:
        """Write the fold's record atomically."""
        self.directory.mkdir(parents=True, exist_ok=True)
        arrays = {
            "oof_rows": record.oof_rows,
            "seconds": np.array(record.seconds),
        }
        if record.test_pred is not None:
            arrays["test_pred"] = record.test_pred
        with atomic_write(self._path(fold)) as out:
            np.savez(out, allow_pickle=False, **arrays)

    def clear(self) -> None:
        """Remove the trial's files (its result is recorded elsewhere now)."""
        shutil.rmtree(self.directory, ignore_errors=True)
