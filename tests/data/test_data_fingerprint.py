"""The data fingerprint: stable across loads, sensitive to every hashed part."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from automoa.data import dataset_fingerprint, fingerprint, load

X = np.arange(6, dtype=np.float32).reshape(3, 2)
Y = np.array([[1, 0], [0, 1], [0, 0]], dtype=np.uint8)
IDS = np.array(["a", "b", "c"])
BASE = {"X": X, "Y": Y, "ids": IDS, "feature_names": ("f1", "f2"), "target_names": ("y1", "y2")}


def test_known_value_is_stable_across_runs() -> None:
    # A fixed digest: fails if the hashed content or its encoding ever changes by accident
    # (which would make every existing study refuse its own data).
    assert fingerprint(**BASE) == (
        "61c1b25fe1435f2a2e53201e2320453c7ae5c1727a12f86b676ea8f472590f8d"
    )


def test_same_data_same_fingerprint_any_input_dtype() -> None:
    again = fingerprint(
        X.astype(np.float64), Y.astype(np.int64), list(IDS), ["f1", "f2"], ["y1", "y2"]
    )
    assert again == fingerprint(**BASE)
    assert fingerprint(np.asfortranarray(X), Y, IDS, ("f1", "f2"), ("y1", "y2")) == again


@pytest.mark.parametrize(
    "change",
    [
        {"X": X + np.array([[0, 0], [0, 1e-3], [0, 0]], dtype=np.float32)},
        {"Y": np.array([[1, 0], [0, 1], [0, 1]], dtype=np.uint8)},
        {"ids": np.array(["a", "b", "d"])},
        {"feature_names": ("f1", "f3")},
        {"target_names": ("y2", "y1")},
        {"groups": np.array(["g1", "g1", "g2"])},
        {"known_negative": np.array([False, False, True])},
        {"X": X[[1, 0, 2]], "Y": Y[[1, 0, 2]], "ids": IDS[[1, 0, 2]]},
        {"X": X.reshape(2, 3), "feature_names": ("f1", "f2", "f3"), "ids": IDS[:2]},
    ],
    ids=["one-value", "one-label", "one-id", "feature-name", "target-order", "groups",
         "known-negative", "row-order", "shape"],
)  # fmt: skip
def test_any_change_changes_fingerprint(change: dict) -> None:
    kwargs = {**BASE, **change}
    groups = kwargs.pop("groups", None)
    known_negative = kwargs.pop("known_negative", None)
    changed = fingerprint(**kwargs, groups=groups, known_negative=known_negative)
    assert changed != fingerprint(**BASE)


def test_groups_split_differently_hash_differently() -> None:
    one = fingerprint(**BASE, groups=np.array(["ab", "c", "d"]))
    assert one != fingerprint(**BASE, groups=np.array(["a", "bc", "d"]))


def test_stable_across_loads_and_changes_with_one_value(tmp_path: Path, moa_tables, write) -> None:
    first = load(write(tmp_path / "a", moa_tables))
    second = load(write(tmp_path / "b", moa_tables))  # other directory, same content
    assert first.fingerprint == second.fingerprint == dataset_fingerprint(first)
    assert len(first.fingerprint) == 64 and int(first.fingerprint, 16) >= 0
    moa_tables["train_features"].loc[5, "g-2"] += 0.5
    assert load(write(tmp_path / "c", moa_tables)).fingerprint != first.fingerprint


def test_test_features_are_not_part_of_it(tmp_path: Path, moa_tables, write) -> None:
    with_test = load(write(tmp_path / "a", moa_tables))
    del moa_tables["test_features"], moa_tables["sample_submission"]
    assert load(write(tmp_path / "b", moa_tables)).fingerprint == with_test.fingerprint


def test_dataset_fingerprint_recomputes(moa_dir: Path) -> None:
    ds = load(moa_dir)
    tampered = dataclasses.replace(ds, Y=ds.Y[::-1].copy())
    assert dataset_fingerprint(tampered) != tampered.fingerprint
