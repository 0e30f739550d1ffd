"""describe(): exact numbers on a hand-made dataset, JSON and text output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from automoa.data import Dataset, DataSummary, describe, load
from automoa.data.summary import feature_prefix


@pytest.fixture
def tiny() -> Dataset:
    """8 rows, 6 features in 3 groups, 4 labels with 5/1/0/2 positives, 1 control row."""
    Y = np.zeros((8, 4), dtype=np.uint8)
    Y[[1, 2, 3, 4, 5], 0] = 1
    Y[6, 1] = 1
    Y[[6, 7], 3] = 1
    known_negative = np.zeros(8, dtype=bool)
    known_negative[0] = True
    return Dataset(
        X=np.zeros((8, 6), dtype=np.float32),
        Y=Y,
        feature_names=("cp_time_24", "cp_time_48", "cp_dose_D2", "g-0", "g-1", "c-0"),
        target_names=("common", "single", "never", "pair"),
        ids=np.array([f"r{i}" for i in range(8)]),
        groups=np.array(["ctl", "d1", "d1", "d1", "d2", "d2", "d3", "d3"]),
        Y_aux=np.zeros((8, 3), dtype=np.uint8),
        aux_names=("a1", "a2", "a3"),
        known_negative=known_negative,
        X_test=np.zeros((2, 6), dtype=np.float32),
        test_ids=np.array(["t0", "t1"]),
        name="tiny",
        fingerprint="ab" * 32,
    )


def test_describe_numbers(tiny: Dataset) -> None:
    s = describe(tiny)
    assert isinstance(s, DataSummary)
    assert (s.name, s.rows, s.test_rows, s.features, s.labels) == ("tiny", 8, 2, 6, 4)
    assert s.feature_groups == (("cp_time", 2), ("cp_dose", 1), ("g-", 2), ("c-", 1))
    assert (s.positives_min, s.positives_median, s.positives_max) == (0, 1.5, 5)
    assert s.positive_rate == pytest.approx(8 / 32)
    assert s.rare_labels == 4  # every label has fewer than 20 positives
    assert s.rare_label_examples == (("never", 0), ("single", 1), ("pair", 2), ("common", 5))
    assert s.labels_without_positive == ("never",)
    assert s.known_negative_rows == 1
    assert (s.groups, s.group_size_min, s.group_size_median, s.group_size_max) == (4, 1, 2.0, 3)
    assert s.aux_targets == 3 and s.fingerprint == "ab" * 32


def test_describe_without_optional_parts(tiny: Dataset) -> None:
    bare = Dataset(X=tiny.X, Y=tiny.Y, feature_names=tiny.feature_names,
                   target_names=tiny.target_names, ids=tiny.ids)  # fmt: skip
    s = describe(bare)
    assert s.test_rows == 0 and s.known_negative_rows == 0 and s.aux_targets == 0
    assert s.groups is None and s.group_size_min is None
    assert "groups: none" in s.to_lines()


def test_summary_is_frozen(tiny: Dataset) -> None:
    with pytest.raises(AttributeError):
        describe(tiny).rows = 3  # type: ignore[misc]


def test_to_dict_is_json_ready(tiny: Dataset) -> None:
    d = describe(tiny).to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["feature_groups"] == {"cp_time": 2, "cp_dose": 1, "g-": 2, "c-": 1}
    assert d["rare_label_examples"]["single"] == 1 and d["labels_without_positive"] == ["never"]
    assert d["groups"] == 4 and d["positives_median"] == 1.5


def test_to_lines(tiny: Dataset) -> None:
    lines = describe(tiny).to_lines()
    text = "\n".join(lines)
    assert all(isinstance(line, str) and "\n" not in line for line in lines)
    assert "rows: 8 train, 2 test" in text
    assert "features: 6 (cp_time 2, cp_dose 1, g- 2, c- 1)" in text
    assert "positives per label min 0, median 1.5, max 5; positive rate 25.000%" in text
    assert "rare labels (< 20 positives): 4: never (0), single (1), pair (2), common (5)" in text
    assert "labels with no positive: 1 (never)" in text
    assert "known-negative rows: 1" in text
    assert "groups: 4; rows per group min 1, median 2, max 3" in text
    assert "auxiliary targets: 3" in text


def test_rare_examples_capped_at_ten() -> None:
    Y = np.zeros((30, 12), dtype=np.uint8)
    Y[:3] = 1
    names = tuple(f"t{i}" for i in range(12))
    ds = Dataset(np.zeros((30, 1), np.float32), Y, ("x",), names, np.arange(30).astype(str))
    s = describe(ds)
    assert s.rare_labels == 12 and len(s.rare_label_examples) == 10
    assert s.to_lines()[4].endswith(", ...")


@pytest.mark.parametrize(
    ("name", "prefix"),
    [("g-12", "g-"), ("c-0", "c-"), ("cp_time_72", "cp_time"), ("cp_dose_D2", "cp_dose"),
     ("Att17", "Att"), ("Mean_Acc1298_MFCC_0", "Mean"), ("BHSUM2", "BHSUM"), ("attr=red", "attr"),
     ("plain", "plain"), ("7", "7")],
)  # fmt: skip
def test_feature_prefix(name: str, prefix: str) -> None:
    assert feature_prefix(name) == prefix


def test_describe_moa_layout(moa_dir) -> None:
    s = describe(load(moa_dir))
    assert s.feature_groups == (("cp_time", 3), ("cp_dose", 1), ("g-", 3), ("c-", 2))
    assert s.known_negative_rows == 2 and s.groups == 5 and s.aux_targets == 2
    assert (s.positives_min, s.positives_max) == (1, 3)
