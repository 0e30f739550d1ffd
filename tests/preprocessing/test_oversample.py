"""Rare-label oversampling by row duplication."""

from __future__ import annotations

import numpy as np
import pytest

from automoa.preprocessing.oversample import RareLabelOversampleStep, rare_label_duplicates
from automoa.preprocessing.registry import get_step


def labelled(sizes: list[int], d: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One label per block of rows, blocks of the given sizes, no row with two labels."""
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    Y = np.zeros((n, len(sizes)), dtype=np.uint8)
    start = 0
    for j, size in enumerate(sizes):
        Y[start : start + size, j] = 1
        start += size
    return rng.normal(size=(n, d)), Y


def names(d: int) -> tuple[str, ...]:
    return tuple(f"f{i}" for i in range(d))


def test_rare_labels_reach_min_positives_or_the_repeat_cap():
    X, Y = labelled([1, 3, 8, 50, 0])
    step = RareLabelOversampleStep(min_positives=10, max_repeats=5)
    _, Y_out = step.fit_resample(X, Y, names(4), seed=0)
    # 1 row: capped at 1 + 5 copies; 3 and 8 rows: exactly 10; 50: frequent; 0: ignored.
    assert Y_out.sum(axis=0).tolist() == [6, 10, 10, 50, 0]


def test_each_row_is_copied_at_most_max_repeats_times():
    _, Y = labelled([2, 3, 40])
    rows = rare_label_duplicates(Y, min_positives=30, max_repeats=4, rng=0)
    copies = np.bincount(rows, minlength=len(Y))
    assert copies.max() == 4
    assert copies[:5].tolist() == [4] * 5
    assert copies[5:].sum() == 0


def test_frequent_rows_repeated_only_when_they_carry_a_rare_label():
    _, Y = labelled([4, 30, 30])
    Y[[10, 11], 0] = 1  # two rows of frequent label 1 also carry rare label 0 (6 positives)
    rows = rare_label_duplicates(Y, min_positives=12, max_repeats=3, rng=0)
    assert set(rows.tolist()) <= {0, 1, 2, 3, 10, 11}
    assert (Y.sum(axis=0) + Y[rows].sum(axis=0))[0] == 12
    assert not np.isin(np.arange(34, 64), rows).any()  # label 2's rows never


def test_duplicates_count_towards_other_rare_labels():
    # Rows 0-3 carry rare labels 0 and 1; label 0 (4 positives) is rarer, processed first, and
    # its 6 copies also lift label 1 from 6 to 12 positives: label 1 needs none of its own.
    Y = np.zeros((40, 3), dtype=np.uint8)
    Y[0:4, 0] = 1
    Y[0:6, 1] = 1
    Y[6:40, 2] = 1
    rows = rare_label_duplicates(Y, min_positives=10, max_repeats=5, rng=0)
    counts = Y.sum(axis=0) + Y[rows].sum(axis=0)
    assert counts[:2].tolist() == [10, 12]
    assert len(rows) == 6 and set(rows.tolist()) <= {0, 1, 2, 3}


def test_no_rare_label_means_no_new_rows():
    X, Y = labelled([25, 30, 0])
    X_out, Y_out = RareLabelOversampleStep(min_positives=20).fit_resample(X, Y, names(4))
    assert X_out.shape == (55, 4) and Y_out.shape == (55, 3)


def test_deterministic_for_a_seed_and_original_rows_first():
    X, Y = labelled([3, 5, 7, 60], d=6)
    step = RareLabelOversampleStep(min_positives=20, max_repeats=5)
    X_copy = X.copy()
    a = step.fit_resample(X, Y, names(6), seed=1)
    b = step.fit_resample(X, Y, names(6), seed=1)
    c = step.fit_resample(X, Y, names(6), seed=2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    X_out, Y_out = a
    assert X_out.dtype == np.float32 and Y_out.dtype == np.uint8
    np.testing.assert_array_equal(X_out[: len(X)], X.astype(np.float32))
    np.testing.assert_array_equal(Y_out[: len(Y)], Y)
    np.testing.assert_array_equal(X, X_copy)
    rows = rare_label_duplicates(Y, min_positives=20, max_repeats=5, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(X_out[len(X) :], X.astype(np.float32)[rows])
    np.testing.assert_array_equal(Y_out[len(Y) :], Y[rows])
    assert step.feature_names_out == names(6)


def test_step_is_registered_as_a_supervised_resampler():
    cls = get_step("oversample")
    assert cls is RareLabelOversampleStep
    assert cls.resamples is True and cls.supervised is True
    assert RareLabelOversampleStep().params == {"min_positives": 20, "max_repeats": 5}


@pytest.mark.parametrize(
    "params",
    [{"min_positives": 0}, {"min_positives": 2.5}, {"max_repeats": 0}, {"max_repeats": True}],
)
def test_bad_parameters_raise_value_error(params):
    with pytest.raises(ValueError):
        RareLabelOversampleStep(**params)
    with pytest.raises(ValueError):
        rare_label_duplicates(np.zeros((3, 2), dtype=np.uint8), **params)


def test_bad_labels_raise_value_error():
    X, Y = labelled([3, 30])
    Y = Y.astype(np.int64)
    Y[0, 0] = -1
    with pytest.raises(ValueError, match="0 and 1"):
        RareLabelOversampleStep().fit_resample(X, Y, names(4))
