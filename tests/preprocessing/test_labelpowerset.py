"""Label-powerset resamplers (LP-ROS, LP-RUS, SMOTE on label sets) through imbalanced-learn."""

import numpy as np
import pytest

from automoa.config import PipelineConfig, StepConfig
from automoa.data.dataset import Dataset
from automoa.folds import make_folds
from automoa.preprocessing import StepCache, prepare_fold
from automoa.preprocessing.labelpowerset import (
    LabelPowersetOversampleStep,
    LabelPowersetSMOTEStep,
    LabelPowersetUndersampleStep,
    label_sets,
    turn_taking_counts,
)
from automoa.search.objective import evaluate

NAMES = ("a", "b", "c")


def _data(n=500, seed=0):
    rng = np.random.default_rng(seed)
    Y = (rng.random((n, 4)) < [0.5, 0.1, 0.05, 0.02]).astype(np.uint8)
    X = (rng.normal(size=(n, 3)) + Y[:, :3]).astype(np.float32)
    return X, Y


def _sets(Y):
    return {tuple(row) for row in Y}


def test_turn_taking_spreads_changes_one_per_class_per_turn_up_to_each_limit():
    assert turn_taking_counts(np.array([5, 1, 0, 3]), 6).tolist() == [3, 1, 0, 2]
    assert turn_taking_counts(np.array([5, 1, 0, 3]), 100).tolist() == [5, 1, 0, 3]
    assert turn_taking_counts(np.array([2, 2]), 0).tolist() == [0, 0]


def test_lp_ros_clones_minority_label_sets_only_up_to_the_mean_size():
    X, Y = _data()
    classes, counts, _ = label_sets(Y)
    X_out, Y_out = LabelPowersetOversampleStep(percentage=0.2).fit_resample(X, Y, NAMES, seed=1)
    assert len(X_out) == 600 and np.array_equal(X_out[:500], X)
    clones = X_out[500:]
    # Every clone is a row of a minority label set, with that row's labels.
    originals = {row.tobytes(): i for i, row in enumerate(X)}
    rows = np.array([originals[c.tobytes()] for c in clones])
    assert np.array_equal(Y_out[500:], Y[rows])
    assert (counts[classes[rows]] < counts.mean()).all()
    _, grown, _ = label_sets(Y_out)
    assert grown.max() == counts.max()  # the majority sets are untouched
    assert (grown[counts < counts.mean()] <= np.ceil(counts.mean())).all()


def test_lp_smote_makes_new_rows_inside_label_sets_with_enough_rows():
    X, Y = _data()
    _, counts, _ = label_sets(Y)
    step = LabelPowersetSMOTEStep(percentage=0.2, k=3)
    X_out, Y_out = step.fit_resample(X, Y, NAMES, seed=1)
    assert len(X_out) == 600 and np.array_equal(Y_out[:500], Y)
    assert _sets(Y_out[500:]) <= _sets(Y)  # label sets that occur, never a mix
    new_rows = {row.tobytes() for row in X_out[500:]}
    assert not new_rows & {row.tobytes() for row in X}  # interpolated, not copies
    _, grown, _ = label_sets(Y_out)
    too_small = counts <= 3
    assert np.array_equal(grown[too_small], counts[too_small])  # no neighbours: unchanged
    again = LabelPowersetSMOTEStep(percentage=0.2, k=3).fit_resample(X, Y, NAMES, seed=1)
    assert np.array_equal(again[0], X_out)


def test_lp_rus_drops_majority_rows_keeps_order_and_says_which():
    X, Y = _data()
    _, counts, _ = label_sets(Y)
    step = LabelPowersetUndersampleStep(percentage=0.1)
    X_out, Y_out = step.fit_resample(X, Y, NAMES, seed=1)
    kept = step.kept_rows()
    assert len(X_out) == 450 and np.array_equal(kept, np.unique(kept))
    assert np.array_equal(X_out, X[kept]) and np.array_equal(Y_out, Y[kept])
    _, shrunk, _ = label_sets(Y_out)
    minority = counts <= counts.mean()
    assert np.array_equal(shrunk[minority], counts[minority])
    assert (shrunk[~minority] >= np.floor(counts.mean())).all()


def test_rows_an_undersampler_drops_leave_groups_and_aux_labels_aligned():
    # Oversampling then undersampling in one chain: the prepared fold names the fold's real
    # rows it kept, so that the family's groups and auxiliary labels follow them.
    X, Y = _data(n=300)
    steps = [
        StepConfig("lp_oversample", {"percentage": 0.2}),
        StepConfig("lp_undersample", {"percentage": 0.2}),
    ]
    prepared = prepare_fold(steps, X, Y, X[:5], None, NAMES, seed=0)
    kept = prepared.kept_rows
    assert kept.ndim == 1 and np.array_equal(kept, np.unique(kept)) and kept.max() < 300
    assert np.array_equal(prepared.X_train[: len(kept)], X[kept])
    assert np.array_equal(prepared.Y_train[: len(kept)], Y[kept])
    assert len(prepared.X_train) > len(kept)  # surviving clones follow the real rows


@pytest.mark.parametrize("step", ["lp_oversample", "lp_smote", "lp_undersample"])
def test_a_pipeline_with_each_resampler_runs_with_drug_groups(step):
    X, Y = _data(n=400, seed=3)
    groups = np.repeat(np.arange(100), 4)
    data = Dataset(
        X=X,
        Y=Y,
        feature_names=NAMES,
        target_names=("p", "q", "r", "s"),
        ids=np.array([str(i) for i in range(400)]),
        groups=groups,
        fingerprint="0" * 64,
    )
    folds = make_folds(Y, n_splits=3, seed=0, groups=groups)
    config = PipelineConfig("linear", {"path_size": 4}, (StepConfig(step, {"percentage": 0.2}),))
    result = evaluate(config, data, folds)
    assert np.isfinite(result.cv_score) and result.oof.shape == Y.shape


def test_the_rows_kept_survive_the_cache_on_disk(tmp_path):
    X, Y = _data(n=300)
    steps = [StepConfig("lp_undersample", {"percentage": 0.2})]
    first = prepare_fold(steps, X, Y, X[:5], None, NAMES, cache=StepCache(tmp_path), fold_key="k")
    # A fresh cache object reads the entry from disk (nothing in memory).
    cache = StepCache(tmp_path)
    again = prepare_fold(steps, X, Y, X[:5], None, NAMES, cache=cache, fold_key="k")
    assert cache.stats.hits and np.array_equal(again.kept_rows, first.kept_rows)
    assert len(first.kept_rows) == 240
