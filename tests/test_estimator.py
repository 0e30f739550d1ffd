"""AutoMoAClassifier: a scikit-learn estimator whose fit runs a search."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import automoa
from automoa.estimator import SKLEARN_CHECKS_NOT_PASSED
from automoa.exceptions import DataError
from automoa.metrics import mean_columnwise_log_loss

#: One quick family with one tuned parameter: every fit below takes seconds.
TINY_SPACE = """\
name: tiny
models:
  linear:
    params:
      # Each label's C comes from a path on an inner split; the path's weak end is searched.
      C_max: {type: float, low: 0.01, high: 1.0, log: true, default: 0.1}
      class_weight: none
"""


@pytest.fixture(scope="module")
def tiny_space(tmp_path_factory):
    path = tmp_path_factory.mktemp("space") / "tiny.yaml"
    path.write_text(TINY_SPACE)
    return str(path)


@pytest.fixture(scope="module")
def yeast_frames():
    X, Y, X_test, Y_test = automoa.datasets.load_yeast_frames()
    return X.iloc[:300], Y.iloc[:300], X_test.iloc[:100], Y_test.iloc[:100]


def _classifier(space, **kwargs):
    options = {"budget": "1m", "space": space, "folds": 3, "max_trials": 3, **kwargs}
    return automoa.AutoMoAClassifier(**options)


def _tiny_for_checks():
    space = "name: tiny\nmodels:\n  linear:\n    params:\n      C: 0.1\n      max_iter: 50\n"
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp(prefix="automoa-checks-")) / "tiny.yaml"
    path.write_text(space)
    return automoa.AutoMoAClassifier(budget="30s", space=str(path), folds=2, max_trials=1)


@pytest.mark.slow
@parametrize_with_checks(
    [_tiny_for_checks()], expected_failed_checks=lambda _: SKLEARN_CHECKS_NOT_PASSED
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_dataframes_in_probabilities_out(tiny_space, yeast_frames):
    X, Y, X_test, Y_test = yeast_frames
    model = _classifier(tiny_space).fit(X, Y)
    proba = model.predict_proba(X_test)
    assert proba.shape == (100, 14) and proba.dtype == np.float32
    assert ((proba > 0) & (proba < 1)).all()
    assert list(model.feature_names_in_) == list(X.columns) and model.n_features_in_ == 103
    assert list(model.target_names_) == list(Y.columns)
    assert model.classes_.tolist() == list(range(14))
    assert model.predict(X_test).shape == (100, 14)
    assert set(np.unique(model.predict(X_test, threshold=0.2))) <= {0, 1}
    # score is the negative MoA metric of predict_proba
    expected = -mean_columnwise_log_loss(Y_test.to_numpy(), proba)
    assert model.score(X_test, Y_test) == pytest.approx(expected, rel=1e-6)
    # better than predicting each label's training rate
    prior = np.tile(Y.to_numpy().mean(axis=0), (100, 1))
    assert -model.score(X_test, Y_test) < mean_columnwise_log_loss(Y_test.to_numpy(), prior)
    board = model.leaderboard_
    # Three trials, each complete or stopped by fold-level halving; at least the first completes.
    assert isinstance(board, pd.DataFrame) and len(board) == 3
    assert set(board["state"]) <= {"COMPLETE", "PRUNED"} and (board["state"] == "COMPLETE").any()
    assert model.best_score_ == board["cv_log_loss"].min()
    assert model.cv_log_loss_ == model.ensemble_.honest_score
    assert model.study_name_ is None  # the search ran in a temporary directory


def test_arrays_in_and_columns_checked_at_predict_time(tiny_space, yeast_frames):
    X, Y, X_test, _ = yeast_frames
    model = _classifier(tiny_space, max_trials=1).fit(X.to_numpy(), Y.to_numpy())
    assert not hasattr(model, "feature_names_in_")
    proba = model.predict_proba(X_test.to_numpy())
    assert proba.shape == (100, 14)
    with pytest.raises(ValueError, match="X has 102 features, but AutoMoAClassifier is expecting"):
        model.predict_proba(X_test.to_numpy()[:, 1:])
    with pytest.raises(ValueError, match="Reshape your data"):
        model.predict_proba(X_test.to_numpy()[0])

    named = _classifier(tiny_space, max_trials=1).fit(X, Y)
    with pytest.raises(ValueError, match="feature names should match"):
        named.predict_proba(X_test.rename(columns={X.columns[0]: "renamed"}))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        by_position = named.predict_proba(X_test.to_numpy())
    np.testing.assert_array_equal(by_position, named.predict_proba(X_test))


def test_not_fitted_and_bad_targets(tiny_space, yeast_frames):
    X, Y, *_ = yeast_frames
    with pytest.raises(NotFittedError):
        _classifier(tiny_space).predict_proba(X)
    with pytest.raises(DataError, match=r"multi-label classifier.*reshape"):
        _classifier(tiny_space).fit(X, Y.iloc[:, 0].to_numpy())
    with pytest.raises(DataError, match="target column 'Class3' has value 2"):
        _classifier(tiny_space).fit(X, Y * 2)


def test_params_clone_and_refit_give_the_same_result(tiny_space, yeast_frames):
    X, Y, X_test, _ = yeast_frames
    model = _classifier(tiny_space, seed=3)
    assert model.get_params()["seed"] == 3 and model.get_params()["folds"] == 3
    assert model.set_params(max_trials=2) is model and model.max_trials == 2
    first = model.fit(X, Y).predict_proba(X_test)
    twin = clone(model)
    assert not hasattr(twin, "model_") and twin.get_params() == model.get_params()
    np.testing.assert_array_equal(twin.fit(X, Y).predict_proba(X_test), first)
    pd.testing.assert_frame_equal(
        twin.leaderboard_.drop(columns="seconds"), model.leaderboard_.drop(columns="seconds")
    )
    other_seed = clone(model).set_params(seed=4).fit(X, Y).predict_proba(X_test)
    assert not np.array_equal(other_seed, first)


def test_a_pickled_model_predicts_the_same(tiny_space, yeast_frames):
    X, Y, X_test, _ = yeast_frames
    model = _classifier(tiny_space, max_trials=1).fit(X, Y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict_proba(X_test), model.predict_proba(X_test))


def test_inside_a_pipeline_with_a_scaler(tiny_space, yeast_frames):
    X, Y, X_test, Y_test = yeast_frames
    pipeline = make_pipeline(StandardScaler(), _classifier(tiny_space, max_trials=2))
    pipeline.fit(X, Y)
    proba = pipeline.predict_proba(X_test)
    assert proba.shape == (100, 14)
    assert pipeline.score(X_test, Y_test) == pytest.approx(
        -mean_columnwise_log_loss(Y_test.to_numpy(), proba), rel=1e-6
    )


@pytest.mark.filterwarnings("ignore::automoa.exceptions.DataWarning")  # a rare label in a split
def test_cross_val_score_with_a_tiny_budget(tiny_space, yeast_frames):
    X, Y, *_ = yeast_frames
    model = automoa.AutoMoAClassifier(budget="20s", space=tiny_space, folds=2, max_trials=1)
    scores = cross_val_score(model, X, Y, cv=KFold(3, shuffle=True, random_state=0))
    assert scores.shape == (3,) and np.isfinite(scores).all()
    assert (-scores < 0.6).all()  # log losses near yeast's, not the prior's 0.5 + noise


def test_a_workdir_keeps_the_study_and_a_refit_resumes_it(tiny_space, yeast_frames, tmp_path):
    X, Y, *_ = yeast_frames
    model = _classifier(tiny_space, max_trials=1, workdir=tmp_path).fit(X, Y)
    assert model.study_name_ == "data"
    study = automoa.open_study(workdir=tmp_path)
    assert len([t for t in study.trials if t.state.name == "COMPLETE"]) == 1
    model.fit(X, Y)  # same data: the study goes on
    study = automoa.open_study(workdir=tmp_path)
    assert len([t for t in study.trials if t.state.name == "COMPLETE"]) == 2
    assert len(model.leaderboard_) == 2


def test_verbose_prints_one_line_per_trial(tiny_space, yeast_frames, capsys):
    X, Y, *_ = yeast_frames
    _classifier(tiny_space, max_trials=2, verbose=True).fit(X, Y)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("trial ")]
    assert len(lines) == 2 and "linear COMPLETE" in lines[0]


def test_the_optuna_experimental_warnings_stay_quiet(tiny_space, yeast_frames):
    X, Y, *_ = yeast_frames
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _classifier(tiny_space, max_trials=1).fit(X, Y)
    assert not [w for w in caught if "experimental" in str(w.message).lower()]
