"""MLSMOTE (Charte et al., Knowledge-Based Systems 89, 2015): geometry, labels, stopping, API."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from automoa.preprocessing.mlsmote import (
    MLSMOTEStep,
    imbalance_ratios,
    mlsmote,
    mlsmote_detailed,
)
from automoa.preprocessing.registry import get_step


def disjoint_data(
    bag_sizes: list[int], n_major: int = 5, major_size: int = 300, d: int = 8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``n_major`` labels of ``major_size`` rows, then one label per bag size; no row has two
    labels, so the ranking rule never switches another label on."""
    rng = np.random.default_rng(seed)
    sizes = [major_size] * n_major + list(bag_sizes)
    n = sum(sizes)
    Y = np.zeros((n, len(sizes)), dtype=np.uint8)
    start = 0
    for j, size in enumerate(sizes):
        Y[start : start + size, j] = 1
        start += size
    X = rng.normal(size=(n, d))
    return X, Y


def skewed_data(
    n: int, d: int, n_labels: int, rate: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Independent labels with log-normal prevalences scaled to a mean positive ``rate``."""
    rng = np.random.default_rng(seed)
    weights = np.exp(rng.normal(0.0, 1.2, n_labels))
    probs = np.clip(weights / weights.mean() * rate, 0, 0.5)
    Y = (rng.random((n, n_labels)) < probs).astype(np.uint8)
    X = rng.normal(size=(n, d)).astype(np.float32)
    return X, Y


def minority_labels(Y: np.ndarray) -> set[int]:
    irlbl, mean_ir = imbalance_ratios(Y.sum(axis=0))
    counts = Y.sum(axis=0)
    return {int(j) for j in np.flatnonzero((counts > 0) & (irlbl > mean_ir))}


# --- geometry ---------------------------------------------------------------------------------


def test_synthetic_rows_lie_in_the_box_between_a_bag_row_and_a_bag_neighbour():
    X, Y = disjoint_data([4, 6, 9, 12], d=30)
    result = mlsmote_detailed(X, Y, k=3, rng=0)
    assert len(result.X_new) > 0
    Xf = X.astype(np.float32)
    for x, label, row, nb in zip(
        result.X_new, result.label, result.row, result.neighbour, strict=True
    ):
        assert row != nb
        assert Y[row, label] == 1 and Y[nb, label] == 1  # both from the label's bag
        r, n = Xf[row], Xf[nb]
        assert np.all(x >= np.minimum(r, n)) and np.all(x <= np.maximum(r, n))


def test_synthetic_rows_found_geometrically_without_provenance():
    X, Y = disjoint_data([5, 7], d=12)
    X_new, Y_new = mlsmote(X, Y, k=2, rng=3)
    Xf = X.astype(np.float32)
    assert len(X_new) > 0
    for x, y in zip(X_new, Y_new, strict=True):
        (label,) = np.flatnonzero(y)  # disjoint labels: exactly the label it was made for
        bag = Xf[Y[:, label] == 1]
        low = np.minimum(bag[:, None, :], bag[None, :, :])
        high = np.maximum(bag[:, None, :], bag[None, :, :])
        inside = np.all((x >= low) & (x <= high), axis=2)
        np.fill_diagonal(inside, False)
        assert inside.any()


def test_point_moves_toward_the_neighbour_with_a_fresh_u_per_feature():
    X, Y = disjoint_data([6, 10], d=40)
    result = mlsmote_detailed(X, Y, k=5, amount=2.0, rng=1)
    Xf = X.astype(np.float32).astype(np.float64)
    assert len(result.X_new) > 0
    for x, row, nb in zip(
        result.X_new.astype(np.float64), result.row, result.neighbour, strict=True
    ):
        r, n = Xf[row], Xf[nb]
        u = (x - r) / (n - r)  # features of distinct rows from a normal never tie
        # Toward the neighbour and never beyond it: u in [0, 1] (not in [-1, 0], away from it).
        assert np.all(u >= -1e-6) and np.all(u <= 1 + 1e-6)
        # One u per feature, not one per row: 40 uniforms spread widely.
        assert u.max() - u.min() > 0.5


# --- neighbours and the ranking rule ---------------------------------------------------------


def test_neighbours_come_from_the_bag_only():
    # Bag of label 0: x = 0, 10, 21. Rows outside the bag sit right next to each bag row, so
    # the nearest neighbour overall is never a bag row.
    bag_x = [0.0, 10.0, 21.0]
    outside_x = [0.1, 10.1, 21.1] * 10
    X = np.array([[v, 0.0] for v in bag_x + outside_x])
    Y = np.zeros((len(X), 2), dtype=np.uint8)
    Y[:3, 0] = 1
    Y[3:, 1] = 1
    result = mlsmote_detailed(X, Y, k=1, amount=3.0, rng=0)
    assert set(result.label.tolist()) == {0}
    assert set(result.neighbour.tolist()) <= {0, 1, 2}
    nearest_in_bag = {0: 1, 1: 0, 2: 1}
    for row, nb in zip(result.row, result.neighbour, strict=True):
        assert nb == nearest_in_bag[int(row)]
    assert np.all(result.X_new[:, 1] == 0)
    assert np.all((result.X_new[:, 0] >= 0) & (result.X_new[:, 0] <= 21))


def ranking_case() -> tuple[np.ndarray, np.ndarray]:
    """Label 0's bag = rows 0-3; label 1 in 3 of them, label 2 in 2, label 3 in 1, label 4 (the
    majority) in none. Only label 0 is a minority label."""
    n = 44
    Y = np.zeros((n, 5), dtype=np.uint8)
    Y[0:4, 0] = 1
    Y[[0, 1, 2], 1] = 1
    Y[[0, 1], 2] = 1
    Y[[0], 3] = 1
    Y[4:24, 1:4] = 1
    Y[4:44, 4] = 1
    X = np.zeros((n, 3))
    X[:4, 0] = [0.0, 1.0, 10.0, 11.0]
    X[4:, 1] = np.arange(40)
    return X, Y


def test_ranking_case_has_only_label_0_as_minority():
    _, Y = ranking_case()
    assert minority_labels(Y) == {0}


@pytest.mark.parametrize("k", [3, 10])
def test_ranking_rule_with_the_whole_bag_as_neighbours(k):
    # k' = 3: every row votes with all 4 bag rows; a label is positive in > 2 of them.
    X, Y = ranking_case()
    result = mlsmote_detailed(X, Y, k=k, rng=0)
    assert len(result.X_new) == 4  # amount 1: one row per bag row, still a minority after
    assert sorted(result.row.tolist()) == [0, 1, 2, 3]
    np.testing.assert_array_equal(result.Y_new, np.tile([1, 1, 0, 0, 0], (4, 1)))


def test_ranking_rule_with_one_neighbour():
    # k' = 1: rows 0 and 1 are each other's neighbour, and rows 2 and 3. Label 1 is in rows 0,
    # 1, 2, so it is positive (2 of 2 votes) only for synthetic rows made from rows 0 and 1.
    X, Y = ranking_case()
    result = mlsmote_detailed(X, Y, k=1, rng=0)
    expected = {0: [1, 1, 1, 0, 0], 1: [1, 1, 1, 0, 0], 2: [1, 0, 0, 0, 0], 3: [1, 0, 0, 0, 0]}
    pairs = {0: 1, 1: 0, 2: 3, 3: 2}
    assert len(result.row) == 4
    for row, nb, y in zip(result.row, result.neighbour, result.Y_new, strict=True):
        assert nb == pairs[int(row)]
        assert y.tolist() == expected[int(row)]


# --- imbalance: who gets rows, when it stops --------------------------------------------------


def test_imbalance_ratios_definition():
    irlbl, mean_ir = imbalance_ratios(np.array([100, 50, 4, 0]))
    np.testing.assert_allclose(irlbl, [1.0, 2.0, 25.0, np.inf])
    assert mean_ir == pytest.approx(28 / 3)  # labels without positives are left out


def test_minority_labels_move_toward_mean_ir_and_majority_labels_are_untouched():
    X, Y = disjoint_data([3, 5, 8, 40, 150], d=6)
    before = Y.sum(axis=0)
    irlbl_before, _ = imbalance_ratios(before)
    minority = minority_labels(Y)
    assert minority == {5, 6, 7}  # 3, 5 and 8 positives; 40 and 150 are not minority labels
    _, Y_new = mlsmote(X, Y, k=3, rng=0)
    after = before + Y_new.sum(axis=0)
    irlbl_after, _ = imbalance_ratios(after)
    for j in range(Y.shape[1]):
        if j in minority:
            assert irlbl_after[j] < irlbl_before[j]
        else:
            assert after[j] == before[j]


def test_stops_once_the_label_is_no_longer_a_minority():
    # Majority labels: 5 x 300 rows; the minority bag has 10 rows. MeanIR = (5 + 30) / 6; the
    # label stops at the first count c with 300 / c <= MeanIR.
    X, Y = disjoint_data([10], n_major=5, major_size=300)
    _, mean_ir = imbalance_ratios(Y.sum(axis=0))
    needed = next(c for c in range(10, 1000) if 300 / c <= mean_ir) - 10
    assert needed < 100  # amount 10 would allow 100 rows
    result = mlsmote_detailed(X, Y, k=5, amount=10.0, rng=0)
    assert len(result.X_new) == needed
    irlbl_after, _ = imbalance_ratios(Y.sum(axis=0) + result.Y_new.sum(axis=0))
    assert irlbl_after[5] <= mean_ir
    irlbl_one_less, _ = imbalance_ratios(Y.sum(axis=0) + result.Y_new[:-1].sum(axis=0))
    assert irlbl_one_less[5] > mean_ir


def test_stopping_holds_row_by_row_on_overlapping_labels():
    X, Y = skewed_data(2000, 10, 30, 0.02, seed=4)
    _, mean_ir = imbalance_ratios(Y.sum(axis=0))
    result = mlsmote_detailed(X, Y, k=5, amount=20.0, rng=0)
    counts = Y.sum(axis=0).astype(np.int64)
    for y, label in zip(result.Y_new, result.label, strict=True):
        # Every row is made while its label is still a minority label (counts so far).
        assert counts.max() / counts[label] > mean_ir
        counts += y


def test_amount_sets_passes_over_the_bag():
    # 5 majority labels of 300 rows, bag of 4: still a minority after 10 more rows.
    X, Y = disjoint_data([4])
    one = mlsmote_detailed(X, Y, amount=1.0, rng=0)
    assert sorted(one.row.tolist()) == [300 * 5 + i for i in range(4)]
    two_and_half = mlsmote_detailed(X, Y, amount=2.5, rng=0)
    assert len(two_and_half.row) == 10  # round(2.5 * 4)
    uses = np.bincount(two_and_half.row - 1500, minlength=4)
    assert sorted(uses.tolist()) == [2, 2, 3, 3]  # two full passes + a random half of the bag
    assert len(mlsmote_detailed(X, Y, amount=0.5, rng=0).row) == 2


def test_bag_of_one_and_bags_smaller_than_k_do_not_crash():
    X, Y = disjoint_data([1, 2, 3], d=5)
    result = mlsmote_detailed(X, Y, k=5, rng=0)
    assert 5 not in result.label  # one positive: nothing to interpolate with
    assert {6, 7} <= set(result.label.tolist())
    # Bag of 2: k' = 1, each row's neighbour is the other one.
    bag2 = np.flatnonzero(Y[:, 6])
    for row, nb in zip(
        result.row[result.label == 6], result.neighbour[result.label == 6], strict=True
    ):
        assert {int(row), int(nb)} == set(bag2.tolist())


def test_label_with_zero_positives_is_ignored():
    X, Y = disjoint_data([4, 6])
    Y = np.concatenate([Y, np.zeros((len(Y), 1), dtype=np.uint8)], axis=1)
    result = mlsmote_detailed(X, Y, rng=0)
    assert len(result.X_new) > 0
    assert Y.shape[1] - 1 not in result.label
    assert result.Y_new[:, -1].sum() == 0
    X0, Y0 = disjoint_data([4, 6])
    reference = mlsmote_detailed(X0, Y0, rng=0)
    np.testing.assert_array_equal(result.X_new, reference.X_new)  # the empty label changes nothing


def test_no_positive_at_all_gives_no_rows():
    X = np.ones((10, 3))
    X_new, Y_new = mlsmote(X, np.zeros((10, 4), dtype=np.uint8), rng=0)
    assert X_new.shape == (0, 3) and Y_new.shape == (0, 4)
    assert X_new.dtype == np.float32 and Y_new.dtype == np.uint8


def test_duplicate_rows_in_a_bag_are_fine():
    X, Y = disjoint_data([6])
    X[-6:] = X[-6]  # every bag row identical: synthetic rows are copies
    X_new, _ = mlsmote(X, Y, rng=0)
    assert len(X_new) == 6
    np.testing.assert_array_equal(X_new, np.tile(X[-6].astype(np.float32), (6, 1)))


def test_max_new_fraction_caps_the_rows_and_serves_rarest_labels_first():
    X, Y = disjoint_data([3, 8, 20])
    n = len(X)
    full = mlsmote_detailed(X, Y, rng=0)
    fraction = 5 / n
    capped = mlsmote_detailed(X, Y, max_new_fraction=fraction, rng=0)
    assert len(full.X_new) > 5
    assert len(capped.X_new) == math.floor(fraction * n) == 5
    assert capped.label.tolist() == [5, 5, 5, 6, 6]  # rarest label (3 positives) first


# --- determinism, output format, the Step ---------------------------------------------------


def test_same_seed_same_rows_other_seed_other_rows():
    X, Y = skewed_data(600, 8, 20, 0.03, seed=1)
    a = mlsmote(X, Y, k=3, rng=7)
    b = mlsmote(X, Y, k=3, rng=7)
    c = mlsmote(X, Y, k=3, rng=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert len(a[0]) > 0
    assert a[0].shape != c[0].shape or not np.array_equal(a[0], c[0])


def test_step_returns_original_rows_first_unchanged_with_dtypes():
    X, Y = skewed_data(500, 6, 12, 0.04, seed=2)
    X64 = X.astype(np.float64) + 0.25
    Ybool = Y.astype(bool)
    X_copy, Y_copy = X64.copy(), Ybool.copy()
    names = tuple(f"f{i}" for i in range(6))
    step = MLSMOTEStep(k=3)
    X_out, Y_out = step.fit_resample(X64, Ybool, names, seed=5)
    assert X_out.dtype == np.float32 and Y_out.dtype == np.uint8
    assert len(X_out) > len(X64)
    np.testing.assert_array_equal(X_out[: len(X64)], X64.astype(np.float32))
    np.testing.assert_array_equal(Y_out[: len(Y)], Y)
    np.testing.assert_array_equal(X64, X_copy)  # inputs untouched
    np.testing.assert_array_equal(Ybool, Y_copy)
    X_new, Y_new = mlsmote(X64, Ybool, k=3, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(X_out[len(X64) :], X_new)
    np.testing.assert_array_equal(Y_out[len(Y) :], Y_new)
    assert step.feature_names_out == names
    again = MLSMOTEStep.from_state(step.state())
    assert again.params == step.params and again.feature_names_out == names
    assert again.transform(X64) is X64  # a resampler leaves other rows alone


def test_step_is_registered_as_a_supervised_resampler():
    cls = get_step("mlsmote")
    assert cls is MLSMOTEStep
    assert cls.resamples is True and cls.supervised is True
    assert MLSMOTEStep().params == {"k": 5, "amount": 1.0, "max_new_fraction": 1.0}


def test_moa_like_206_labels_adds_rows_only_for_minority_labels():
    X, Y = skewed_data(3000, 50, 206, 0.0034, seed=11)
    Y[:, 0] = 0
    Y[5, 0] = 1  # a label with a single positive
    minority = minority_labels(Y)
    start = time.perf_counter()
    result = mlsmote_detailed(X, Y, rng=0)
    assert time.perf_counter() - start < 5
    assert len(result.X_new) > 0
    assert set(result.label.tolist()) <= minority
    assert 0 not in result.label
    assert np.all(result.Y_new[np.arange(len(result.label)), result.label] == 1)
    X_out, Y_out = MLSMOTEStep().fit_resample(X, Y, tuple(map(str, range(50))), seed=0)
    assert X_out.shape == (3000 + len(result.X_new), 50)
    assert Y_out.shape == (3000 + len(result.X_new), 206)


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"k": 0},
        {"k": 2.5},
        {"k": True},
        {"k": "5"},
        {"amount": 0},
        {"amount": -1.0},
        {"amount": float("nan")},
        {"amount": float("inf")},
        {"max_new_fraction": 0.0},
        {"max_new_fraction": "a lot"},
    ],
)
def test_bad_parameters_raise_value_error(params):
    with pytest.raises(ValueError):
        MLSMOTEStep(**params)
    X, Y = disjoint_data([4])
    with pytest.raises(ValueError):
        mlsmote(X, Y, **params)


def test_bad_inputs_raise_value_error():
    X, Y = disjoint_data([4])
    step = MLSMOTEStep()
    names = tuple(map(str, range(X.shape[1])))
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    Y_two = Y.copy()
    Y_two[0, 0] = 2
    with pytest.raises(ValueError, match="NaN"):
        step.fit_resample(X_nan, Y, names)
    with pytest.raises(ValueError, match="0 and 1"):
        step.fit_resample(X, Y_two, names)
    with pytest.raises(ValueError, match="rows"):
        step.fit_resample(X, Y[:-1], names)
    with pytest.raises(ValueError, match="feature names"):
        step.fit_resample(X, Y, names[:-1])
