"""Cache of fitted chain prefixes, shared by trials: in memory (LRU) and on disk (arrays).

An entry holds what a chain prefix produced on one fold: the transformed training, validation
and test rows and the fitted steps' states. Keys hash the data fingerprint, the fold's rows,
the seed and the prefix's step configurations, so a hit is always the same computation.

On disk an entry is data only: an ``.npz`` file of plain arrays read with
``allow_pickle=False``, its layout and the steps' JSON states in one array of UTF-8 bytes. A
work directory is something people copy, share and resume, so nothing in it is ever unpickled:
a planted or corrupt file (a pickle under an ``.npz`` name, an object array, a wrong shape) is
a miss, never code that runs. Files of the earlier pickle format (``.joblib``) are not read.

Disk entries are written to a temporary file and renamed into place, so two workers sharing the
directory never read a half-written entry. Both tiers are bounded (least recently used entries
go first in memory, oldest files on disk).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from automoa.config import StepConfig
from automoa.npz import save_npz
from automoa.preprocessing.base import StepState

DEFAULT_MEMORY_BYTES = 1 << 30  # 1 GiB
DEFAULT_DISK_BYTES = 4 << 30  # 4 GiB
ENTRY_FORMAT = "automoa-cache-entry"
ENTRY_VERSION = 1
_SPEC_KEY = "spec"
_SUFFIX = ".npz"


@dataclass
class CacheEntry:
    """Output of a fitted chain prefix on one fold."""

    X_train: np.ndarray
    Y_train: np.ndarray
    X_valid: np.ndarray
    X_test: np.ndarray | None
    feature_names: tuple[str, ...]
    states: list[StepState]
    #: which of the fold's training rows the leading (original, not synthetic) rows of
    #: ``X_train`` are, in order: ``arange(n)`` until an undersampler drops some
    kept: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        """Approximate size in memory."""
        arrays = [self.X_train, self.Y_train, self.X_valid]
        if self.X_test is not None:
            arrays.append(self.X_test)
        arrays += [a for s in self.states for a in s.arrays.values()]
        return sum(a.nbytes for a in arrays)


@dataclass
class CacheStats:
    """Lookups by outcome and compute seconds, per step id (for reports and the benchmark)."""

    hits: dict[str, int] = field(default_factory=dict)
    misses: dict[str, int] = field(default_factory=dict)
    compute_seconds: dict[str, float] = field(default_factory=dict)

    def record(self, step: str, hit: bool, seconds: float = 0.0) -> None:
        """Count one lookup (and the seconds spent computing it on a miss)."""
        counter = self.hits if hit else self.misses
        counter[step] = counter.get(step, 0) + 1
        self.compute_seconds[step] = self.compute_seconds.get(step, 0.0) + seconds

    @property
    def hit_rate(self) -> float:
        """Hits over lookups (0 before any lookup)."""
        hits, total = sum(self.hits.values()), sum(self.hits.values()) + sum(self.misses.values())
        return hits / total if total else 0.0

    def seconds_saved(self) -> float:
        """Estimated compute time the hits saved: hits x mean compute time of the step."""
        saved = 0.0
        for step, hits in self.hits.items():
            misses = self.misses.get(step, 0)
            if misses:
                saved += hits * self.compute_seconds.get(step, 0.0) / misses
        return saved


def fold_key(fingerprint: str, train_idx: np.ndarray, valid_idx: np.ndarray, seed: int) -> str:
    """Identity of a fold's inputs: the data, its exact rows, and the seed."""
    digest = hashlib.sha256(fingerprint.encode())
    digest.update(np.ascontiguousarray(train_idx, dtype=np.int64).tobytes())
    digest.update(b"|")
    digest.update(np.ascontiguousarray(valid_idx, dtype=np.int64).tobytes())
    digest.update(str(seed).encode())
    return digest.hexdigest()


def prefix_key(base: str, steps: Sequence[StepConfig]) -> str:
    """Key of a chain prefix on the fold identified by ``base``."""
    text = json.dumps([s.to_dict() for s in steps], sort_keys=True, default=str)
    return hashlib.sha256(f"{base}|{text}".encode()).hexdigest()


class StepCache:
    """Two-tier cache of :class:`CacheEntry` objects.

    Args:
        directory: where disk entries live (``None``: memory only).
        max_memory_bytes: memory bound.
        max_disk_bytes: disk bound.
    """

    def __init__(
        self,
        directory: str | Path | None = None,
        max_memory_bytes: int = DEFAULT_MEMORY_BYTES,
        max_disk_bytes: int = DEFAULT_DISK_BYTES,
    ) -> None:
        self.directory = Path(directory) if directory is not None else None
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.max_memory_bytes = max_memory_bytes
        self.max_disk_bytes = max_disk_bytes
        self._memory: OrderedDict[str, CacheEntry] = OrderedDict()
        self._memory_bytes = 0
        self.stats = CacheStats()

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}{_SUFFIX}"  # type: ignore[operator]

    def get(self, key: str) -> CacheEntry | None:
        """The entry for ``key``, or ``None``."""
        entry = self._memory.get(key)
        if entry is not None:
            self._memory.move_to_end(key)
            return entry
        if self.directory is None:
            return None
        path = self._path(key)
        entry = read_entry(path)
        if entry is None:  # missing, being evicted by another worker, or not ours: a miss
            return None
        with contextlib.suppress(OSError):  # evicted meanwhile: nothing to touch
            os.utime(path)  # recently used: evicted last
        self._remember(key, entry)
        return entry

    def put(self, key: str, entry: CacheEntry) -> None:
        """Store ``entry`` in memory and, if there is a directory, on disk."""
        self._remember(key, entry)
        if self.directory is None or entry.nbytes > self.max_disk_bytes:
            return
        path = self._path(key)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".part")
        os.close(fd)
        try:
            with open(tmp, "wb") as out:
                write_entry(out, entry)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._evict_disk()

    def _remember(self, key: str, entry: CacheEntry) -> None:
        if entry.nbytes > self.max_memory_bytes:
            return
        if key in self._memory:
            self._memory_bytes -= self._memory.pop(key).nbytes
        self._memory[key] = entry
        self._memory_bytes += entry.nbytes
        while self._memory_bytes > self.max_memory_bytes:
            _, evicted = self._memory.popitem(last=False)
            self._memory_bytes -= evicted.nbytes

    def _evict_disk(self) -> None:
        files = []
        for path in self.directory.glob(f"*{_SUFFIX}"):  # type: ignore[union-attr]
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed by another worker
                continue
            files.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_disk_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size


def write_entry(out: BinaryIO, entry: CacheEntry) -> None:
    """Write ``entry`` as an ``.npz`` of plain arrays plus a JSON spec (no pickle).

    Raises:
        ValueError: a state array numpy could only store by pickling (never cached).
    """
    arrays: dict[str, np.ndarray] = {
        "X_train": entry.X_train,
        "Y_train": entry.Y_train,
        "X_valid": entry.X_valid,
    }
    if entry.X_test is not None:
        arrays["X_test"] = entry.X_test
    if entry.kept is not None:
        arrays["kept"] = np.asarray(entry.kept, dtype=np.int64)
    states = []
    for i, state in enumerate(entry.states):
        names = {}
        for name, value in state.arrays.items():
            array = np.asarray(value)
            if array.dtype.hasobject:
                raise ValueError(f"step {state.name!r}: state array {name!r} holds objects")
            names[name] = f"s{i}_{len(names)}"
            arrays[names[name]] = array
        states.append(
            {"name": state.name, "params": state.params, "meta": state.meta, "arrays": names}
        )
    spec = {
        "format": ENTRY_FORMAT,
        "version": ENTRY_VERSION,
        "feature_names": list(entry.feature_names),
        "states": states,
    }
    arrays[_SPEC_KEY] = np.frombuffer(json.dumps(spec).encode(), dtype=np.uint8)
    save_npz(out, arrays)


def read_entry(path: Path) -> CacheEntry | None:
    """The entry stored at ``path``, or ``None`` when it is missing or not a valid entry.

    Read with ``allow_pickle=False``: nothing in the file can run. A file that does not parse,
    or whose arrays do not fit together, is ``None`` (a cache miss), never an error.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            spec = json.loads(bytes(npz[_SPEC_KEY]).decode())
            if spec.get("format") != ENTRY_FORMAT or spec.get("version") != ENTRY_VERSION:
                return None
            X_train, Y_train, X_valid = npz["X_train"], npz["Y_train"], npz["X_valid"]
            X_test = npz["X_test"] if "X_test" in npz.files else None
            kept = npz["kept"] if "kept" in npz.files else None
            states = [
                StepState(
                    name=str(state["name"]),
                    params=dict(state["params"]),
                    meta=dict(state["meta"]),
                    arrays={name: npz[key] for name, key in state["arrays"].items()},
                )
                for state in spec["states"]
            ]
            feature_names = tuple(str(name) for name in spec["feature_names"])
    except Exception:  # not a zip, a pickle, truncated, a missing key, bad JSON: a miss
        return None
    width = len(feature_names)
    matrices = [X_train, X_valid] + ([] if X_test is None else [X_test])
    if any(m.ndim != 2 or m.shape[1] != width or m.dtype.hasobject for m in matrices):
        return None
    if Y_train.ndim != 2 or Y_train.shape[0] != X_train.shape[0] or Y_train.dtype.hasobject:
        return None
    if kept is not None and (
        kept.ndim != 1 or kept.dtype.kind not in "iu" or kept.shape[0] > X_train.shape[0]
    ):
        return None
    return CacheEntry(X_train, Y_train, X_valid, X_test, feature_names, states, kept)
