"""Benchmark tasks: a dataset's training rows and the held-out rows it is scored on.

A dataset with an official train/test split (a ``targets_test`` file next to the test
features) is scored on its test rows; any other is split into outer multilabel-stratified
folds (drug-aware where the data has groups), each outer fold's rows held out in turn. The
search never sees the held-out labels: the task's training :class:`Dataset` carries the
held-out rows as its test features only.

Generated ``moa-nonlinear-*`` data carry their true probabilities (files no loader reads):
a task then also holds the held-out rows' true probabilities, from which the harness reports
the Bayes log loss and each system's gap ratio.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from automoa.data import Dataset, load, make_moa_like
from automoa.data.examples import bundled_yeast_dir
from automoa.exceptions import ConfigError, DataError
from automoa.folds import make_folds

#: The shared MULAN datasets by name (looked up under the datasets directory).
SHARED = ("yeast", "scene", "emotions")
#: Generated MoA-like data sets: name -> training rows.
MOA_LIKE = {"moa-like-2k": 2000, "moa-like-24k": 23814}
#: Generated MoA-like data sets whose labels are nonlinear in the features (true probabilities
#: known): name -> training rows.
MOA_NONLINEAR = {"moa-nonlinear-2k": 2000, "moa-nonlinear-24k": 23814}
GENERATED = {
    **{name: (rows, "linear") for name, rows in MOA_LIKE.items()},
    **{name: (rows, "nonlinear") for name, rows in MOA_NONLINEAR.items()},
}
#: Where the shared datasets are unless ``--datasets-dir`` or ``AUTOMOA_DATASETS`` says.
DATASETS_ENV = "AUTOMOA_DATASETS"
_TEST_TARGETS = ("targets_test.csv", "targets_test.csv.gz")
OUTER_SEED = 20261122  # fixed: every system and seed is scored on the same outer folds


@dataclass(frozen=True, eq=False)
class BenchmarkTask:
    """One (dataset, outer fold): what a system trains on and is scored against.

    Attributes:
        dataset: the dataset's name.
        fold: ``"test"`` (official split) or ``"k/K"`` (outer fold k of K).
        train: training rows, with the held-out rows as ``X_test`` (features only).
        Y_test: the held-out rows' labels.
        P_test: the held-out rows' true probabilities (scored targets), where the data were
            generated with them (``moa-nonlinear-*``); never given to a system.
    """

    dataset: str
    fold: str
    train: Dataset
    Y_test: np.ndarray
    P_test: np.ndarray | None = None


def default_datasets_dir() -> Path | None:
    """``$AUTOMOA_DATASETS``, else ``../shared/datasets`` next to the repository, if present."""
    if os.environ.get(DATASETS_ENV):
        return Path(os.environ[DATASETS_ENV])
    candidate = Path(__file__).resolve().parents[3] / "shared" / "datasets"
    return candidate if candidate.is_dir() else None


def shared_available(name: str, datasets_dir: Path | None) -> bool:
    """Whether the shared dataset ``name`` can be loaded (yeast always: it is bundled)."""
    return name == "yeast" or (datasets_dir is not None and (datasets_dir / name).is_dir())


def _subset(data: Dataset, rows: np.ndarray) -> dict[str, object]:
    def take(array: np.ndarray | None) -> np.ndarray | None:
        return None if array is None else array[rows]

    return {
        "X": data.X[rows],
        "Y": data.Y[rows],
        "ids": data.ids[rows],
        "groups": take(data.groups),
        "Y_aux": take(data.Y_aux),
        "known_negative": take(data.known_negative),
    }


def _fingerprint(data: Dataset) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(data.X).tobytes())
    digest.update(np.ascontiguousarray(data.Y).tobytes())
    return digest.hexdigest()


def outer_split(data: Dataset, k: int, n_folds: int) -> tuple[Dataset, np.ndarray]:
    """Hold out outer fold ``k`` of ``n_folds``: the training Dataset and the held-out labels.

    The folds are multilabel-stratified, drug-aware when the data has groups, seeded with a
    fixed seed so that every system is scored on the same rows.
    """
    folds = make_folds(data.Y, n_splits=n_folds, seed=OUTER_SEED, groups=data.groups)
    held_out = np.flatnonzero(folds == k)
    kept = np.flatnonzero(folds != k)
    train = dataclasses.replace(
        data,
        **_subset(data, kept),
        X_test=data.X[held_out],
        test_ids=data.ids[held_out],
        test_known_negative=None if data.known_negative is None else data.known_negative[held_out],
        name=f"{data.name}-outer{k}",
        load_spec=None,
        fingerprint="",
    )
    train = dataclasses.replace(train, fingerprint=_fingerprint(train))
    return train, data.Y[held_out]


def _official_test_targets(directory: Path, data: Dataset) -> np.ndarray | None:
    for name in _TEST_TARGETS:
        path = directory / name
        if path.is_file():
            frame = pd.read_csv(path, dtype={data.id_name: str})
            if data.id_name not in frame.columns:
                raise DataError(f"{path}: no {data.id_name!r} column")
            missing = [c for c in data.target_names if c not in frame.columns]
            if missing:
                raise DataError(f"{path}: missing target columns {missing[:5]}")
            by_id = frame.set_index(data.id_name)
            try:
                return by_id.loc[data.test_ids, list(data.target_names)].to_numpy(np.uint8)
            except KeyError:
                raise DataError(f"{path}: its ids do not match the test features' ids") from None
    return None


def true_probabilities(
    directory: Path, data: Dataset, ids: np.ndarray, split: str
) -> np.ndarray | None:
    """The true probabilities of rows ``ids`` from ``true_probabilities_<split>.csv``, if any.

    Args:
        directory: the data directory.
        data: its dataset (for the id column and target names).
        ids: the rows wanted, in order.
        split: ``train`` or ``test``.

    Raises:
        DataError: the file lacks a target column or one of ``ids``.
    """
    path = directory / f"true_probabilities_{split}.csv"
    if not path.is_file():
        return None
    frame = pd.read_csv(path, dtype={data.id_name: str})
    missing = [c for c in (data.id_name, *data.target_names) if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing columns {missing[:5]}")
    try:
        by_id = frame.set_index(data.id_name).loc[ids, list(data.target_names)]
    except KeyError:
        raise DataError(f"{path}: its ids do not match the {split} features' ids") from None
    return by_id.to_numpy(np.float64)


def _load_named(name: str, datasets_dir: Path | None, cache_dir: Path) -> tuple[Dataset, Path]:
    if name in GENERATED:
        directory = cache_dir / name
        if not (directory / "train_features.csv").is_file():
            rows, mode = GENERATED[name]
            make_moa_like(directory, rows=rows, seed=0, mode=mode)
        return load(directory, name=name), directory
    if name in SHARED and not Path(name).exists():
        found = datasets_dir is not None and (datasets_dir / name).is_dir()
        if name == "yeast" and not found:
            return load(bundled_yeast_dir(), name=name), bundled_yeast_dir()  # the same files
        if not found:
            where = datasets_dir or f"${DATASETS_ENV} (unset) or ../shared/datasets"
            raise ConfigError(
                f"--datasets {name}: not found under {where}; give --datasets-dir or a path"
            )
        directory = datasets_dir / name
        return load(directory, name=name), directory
    directory = Path(name)
    if not directory.is_dir():
        known = ", ".join([*SHARED, *GENERATED])
        raise ConfigError(f"--datasets {name}: not a directory nor one of {known}")
    return load(directory), directory


def benchmark_tasks(
    name: str,
    *,
    datasets_dir: Path | None,
    cache_dir: Path,
    outer_folds: int = 5,
    folds_to_run: int = 1,
) -> Iterator[BenchmarkTask]:
    """The tasks of one dataset: its official split, or its first ``folds_to_run`` outer folds.

    Args:
        name: ``yeast``, ``scene``, ``emotions`` (under ``datasets_dir``), ``moa-like-2k``,
            ``moa-like-24k``, ``moa-nonlinear-2k``, ``moa-nonlinear-24k`` (generated once into
            ``cache_dir``) or a data directory. A directory holding
            ``true_probabilities_train.csv`` / ``true_probabilities_test.csv`` gives its tasks
            the held-out rows' true probabilities.
        datasets_dir: where the shared datasets are.
        cache_dir: where generated data is kept.
        outer_folds: K of the outer K-fold split (datasets without an official split).
        folds_to_run: how many of the K outer folds are evaluated.

    Raises:
        ConfigError: an unknown name or a directory that does not exist.
        DataError: the data cannot be read.
    """
    data, directory = _load_named(name, datasets_dir, cache_dir)
    label = data.name if name not in SHARED and name not in GENERATED else name
    if data.X_test is not None:
        Y_test = _official_test_targets(directory, data)
        if Y_test is not None:
            P_test = true_probabilities(directory, data, data.test_ids, "test")
            yield BenchmarkTask(label, "test", data, Y_test, P_test)
            return
    for k in range(min(folds_to_run, outer_folds)):
        train, Y_test = outer_split(dataclasses.replace(data, X_test=None), k, outer_folds)
        P_test = true_probabilities(directory, data, train.test_ids, "train")
        yield BenchmarkTask(label, f"{k}/{outer_folds}", train, Y_test, P_test)
