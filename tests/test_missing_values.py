"""Missing values: accepted in the features, imputed on the training fold in every pipeline, and
handled the same way by exported bundles and ``predict``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import automoa
from automoa import api
from automoa.data import from_arrays, load
from automoa.exceptions import DataError, SearchSpaceError
from automoa.preprocessing.impute import ImputeStep
from automoa.search.study import read_meta
from automoa.spaces import bind_data, load_space, space_from_json

YEAST = Path(automoa.__file__).parent / "data" / "bundled" / "yeast"


def test_impute_uses_training_rows_only_and_flags_missing_columns():
    train = np.array([[1.0, np.nan, 5.0], [3.0, 2.0, 5.0], [np.nan, 4.0, 5.0]], dtype=np.float32)
    step = ImputeStep().fit(train, None, ("a", "b", "c"))
    assert step.feature_names_out == ("a", "b", "c", "a__missing", "b__missing")
    # A validation row: its values never move the medians; column c had no missing value in
    # training, so its NaN is imputed without an indicator.
    valid = np.array([[np.nan, 100.0, np.nan]], dtype=np.float32)
    out = step.transform(valid)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert out.tolist() == [[2.0, 100.0, 5.0, 1.0, 0.0]]
    restored = ImputeStep.from_state(step.state())
    assert np.array_equal(restored.transform(valid), out)
    plain = ImputeStep(indicators=False).fit(train, None, ("a", "b", "c"))
    assert plain.transform(valid).shape == (1, 3)


def test_a_column_missing_in_every_training_row_is_imputed_with_zero():
    train = np.array([[np.nan, 1.0], [np.nan, 2.0]], dtype=np.float32)
    out = ImputeStep().fit(train, None, ("a", "b")).transform(train)
    assert out.tolist() == [[0.0, 1.0, 1.0], [0.0, 2.0, 1.0]]


def test_data_with_missing_values_binds_an_impute_step_first():
    space = load_space("fast")
    bound = bind_data(space, ("a", "b"), 100, has_missing=True)
    assert bound.steps[0].name == "impute" and not bound.steps[0].optional
    assert [s.name for s in bound.steps[1:]] == [s.name for s in space.steps]
    assert bind_data(space, ("a", "b"), 100).steps == space.steps  # no NaN: unchanged
    assert bind_data(bound, ("a", "b"), 100, has_missing=True).steps == bound.steps


def test_a_space_placing_impute_after_another_step_is_refused(tmp_path):
    text = (
        "name: late\npreprocessing:\n  - step: standardize\n  - step: impute\n"
        "models:\n  linear: {}\n"
    )
    path = tmp_path / "late.yaml"
    path.write_text(text)
    with pytest.raises(SearchSpaceError, match=r"preprocessing\[1\]: .*'impute' must come first"):
        bind_data(load_space(path), ("a",), 100, has_missing=True)


def test_infinity_is_still_refused_with_the_column_named():
    X = np.zeros((30, 3))
    X[4, 1] = np.inf
    X[5, 2] = np.nan
    Y = (np.arange(30)[:, None] % 2 == np.arange(2)[None, :]).astype(int)
    with pytest.raises(DataError, match=r"X: infinite .*values in 1 feature column \('x1'"):
        from_arrays(X, Y)


def _data_with_missing_values(directory: Path, rate: float = 0.05) -> Path:
    """Bundled yeast with ``rate`` of its feature cells (train and test) emptied."""
    directory.mkdir()
    rng = np.random.default_rng(0)
    for name in ("features_train.csv.gz", "features_test.csv"):
        frame = pd.read_csv(YEAST / name)
        values = frame.iloc[:, 1:].to_numpy()
        values[rng.random(values.shape) < rate] = np.nan
        frame.iloc[:, 1:] = values
        frame.to_csv(directory / name.replace(".gz", ""), index=False)
    shutil.copy(YEAST / "targets_train.csv", directory / "targets_train.csv")
    return directory


@pytest.mark.slow
def test_search_export_and_predict_on_data_with_five_percent_missing(tmp_path):
    data = _data_with_missing_values(tmp_path / "data")
    dataset = load(data)
    assert dataset.has_missing and 0.03 < np.isnan(dataset.X).mean() < 0.07
    work = tmp_path / "work"
    result = automoa.search(
        data, budget="90s", space="fast", workdir=work, max_trials=3, keep_models=True
    )
    complete = [t for t in result.study.trials if t.state.name == "COMPLETE"]
    assert complete, [t.user_attrs.get("failure_reason") for t in result.study.trials]
    assert not [t for t in result.study.trials if t.state.name == "FAIL"]
    stored = space_from_json(read_meta(result.study).space_json)
    assert stored.steps[0].name == "impute"  # bound at study creation, for every trial
    assert np.isfinite(result.oof().to_numpy(dtype=float)).all()

    bundle = api.export(work / "model", workdir=work)
    model = automoa.load(bundle.path)
    assert model.accepts_missing
    test_file = data / "features_test.csv"
    predicted = api.predict(work / "model", test_file, tmp_path / "predictions.csv")
    submission = pd.read_csv(result.ensemble.submission)
    assert list(predicted.columns) == list(submission.columns)
    diff = np.abs(predicted.iloc[:, 1:].to_numpy() - submission.iloc[:, 1:].to_numpy())
    assert diff.max() < 1e-5
    frame = pd.read_csv(test_file)
    assert frame.iloc[:, 1:].isna().to_numpy().any()
    proba = model.predict_proba(frame.drop(columns=["id"]))
    assert np.isfinite(proba).all() and proba.shape == (len(frame), len(model.target_names))
