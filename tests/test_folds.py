import numpy as np
import pytest

from automoa.exceptions import ConfigError
from automoa.folds import fold_indices, make_folds


def _labels(n=600, L=12, seed=0):
    rng = np.random.default_rng(seed)
    rates = np.linspace(0.01, 0.3, L)
    return (rng.random((n, L)) < rates).astype(np.uint8)


def test_every_row_in_exactly_one_fold_and_deterministic():
    Y = _labels()
    folds = make_folds(Y, n_splits=5, seed=3)
    assert folds.shape == (600,)
    assert set(np.unique(folds)) == set(range(5))
    assert np.array_equal(folds, make_folds(Y, n_splits=5, seed=3))
    assert not np.array_equal(folds, make_folds(Y, n_splits=5, seed=4))


def test_stratification_spreads_rare_label_positives():
    Y = _labels()
    folds = make_folds(Y, n_splits=5, seed=0)
    for label in range(Y.shape[1]):
        per_fold = np.bincount(folds[Y[:, label] == 1], minlength=5)
        assert per_fold.max() - per_fold.min() <= 2, (label, per_fold)


def test_group_aware_keeps_small_groups_whole_and_splits_large_ones():
    Y = _labels(n=700)
    small_groups = np.repeat(np.arange(100), 6)  # 100 drugs of 6 rows
    groups = np.concatenate([small_groups.astype(str), np.full(100, "big")])
    folds = make_folds(Y, n_splits=5, seed=0, groups=groups)
    for g in np.unique(small_groups):
        assert len(np.unique(folds[:600][small_groups == g])) == 1
    assert len(np.unique(folds[600:])) == 5  # the 100-row drug is split by row


def test_fold_indices_partition_rows():
    folds = make_folds(_labels(n=50), n_splits=5, seed=0)
    train, valid = fold_indices(folds, 2)
    assert sorted(np.concatenate([train, valid]).tolist()) == list(range(50))
    assert (folds[valid] == 2).all() and (folds[train] != 2).all()


@pytest.mark.parametrize("n_splits", [1, 0, 100])
def test_bad_fold_counts_are_config_errors(n_splits):
    with pytest.raises(ConfigError, match="--folds"):
        make_folds(_labels(n=50), n_splits=n_splits, seed=0)
