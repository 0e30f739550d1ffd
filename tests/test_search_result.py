"""automoa.search(...) -> SearchResult, from a directory, a Dataset or (X, Y) in memory."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import automoa
from automoa.cli import app
from automoa.exceptions import ConfigError, StudyError
from automoa.metrics import mean_columnwise_log_loss


@pytest.fixture(scope="module")
def frames():
    X, Y, X_test, _ = automoa.datasets.load_yeast_frames()
    return X.iloc[:300], Y.iloc[:300], X_test.iloc[:50]


@pytest.fixture(scope="module")
def searched(frames, tmp_path_factory):
    X, Y, X_test = frames
    workdir = tmp_path_factory.mktemp("work")
    result = automoa.search(
        (X, Y),
        budget="2m",
        space="fast",
        folds=3,
        workdir=workdir,
        max_trials=3,
        X_test=X_test,
        keep_models=True,  # export ships the searched models: no re-training here
    )
    return result, workdir


def test_the_result_gives_leaderboard_best_trial_ensemble_and_oof(searched, frames):
    result, _ = searched
    X, Y, _ = frames
    assert isinstance(result, automoa.SearchResult) and result.trials_run == 3
    board = result.leaderboard()
    complete = board[board["state"] == "COMPLETE"]
    # Three trials, each complete or cut by fold-level halving (which has no CV score).
    assert len(board) == 3 and set(board["state"]) <= {"COMPLETE", "PRUNED"}
    assert board.loc[board["state"] == "PRUNED", "cv_log_loss"].isna().all()
    assert len(complete) >= 2 and complete["cv_log_loss"].is_monotonic_increasing
    best = result.best_trial
    assert best.number == complete.iloc[0]["trial"] and result.best_score == best.value
    assert result.ensemble is not None and result.ensemble.n_candidates == 3
    assert result.ensemble.honest_score <= max(complete["cv_log_loss"])
    oof = result.oof()
    assert oof.shape == Y.shape and list(oof.columns) == list(Y.columns)
    assert oof.index.tolist() == X.index.tolist() and oof.index.name == "id"
    # The recorded CV log loss is the metric of these out-of-fold predictions.
    assert mean_columnwise_log_loss(Y.to_numpy(), oof.to_numpy()) == pytest.approx(
        best.value, rel=1e-5
    )
    other = int(complete.iloc[-1]["trial"])
    assert not np.array_equal(result.oof(other).to_numpy(), oof.to_numpy())
    assert "best CV log loss" in repr(result) and "<table" in result._repr_html_()
    # X_test given in memory: the ensemble's predictions for it were written
    submission = pd.read_csv(result.ensemble.submission, dtype={"id": str})
    assert submission.shape == (50, 15) and submission["id"].iloc[0] == "yeast_te_00000"


def test_oof_of_a_missing_or_unfinished_trial_is_refused(searched):
    result, _ = searched
    with pytest.raises(StudyError, match="trial 99: not in the study"):
        result.oof(99)
    waiting = result.leaderboard().query("state == 'WAITING'")["trial"]
    if len(waiting):
        with pytest.raises(StudyError, match="WAITING; expected a complete trial"):
            result.oof(int(waiting.iloc[0]))
    with pytest.raises(ConfigError, match="expected a trial number"):
        result.oof("best")


def test_export_then_load_predicts_like_the_search(searched, frames, tmp_path):
    result, _ = searched
    _, _, X_test = frames
    report = result.export(tmp_path / "bundle")
    model = automoa.load(tmp_path / "bundle")
    proba = model.predict_proba(X_test)
    assert proba.shape == (50, 14)
    submission = pd.read_csv(result.ensemble.submission, dtype={"id": str})
    np.testing.assert_allclose(proba, submission.iloc[:, 1:].to_numpy(), atol=1e-5)
    assert all(m.max_abs_diff < 1e-5 for m in report.members)
    np.testing.assert_array_equal(model.predict_proba(X_test.to_numpy()), proba)  # by position
    framed = model.predict_frame(X_test)
    assert framed.index.equals(X_test.index) and tuple(framed.columns) == model.target_names
    assert (result.report(tmp_path / "report").html).exists()


@pytest.mark.slow
def test_the_estimator_and_the_loaded_bundle_predict_the_same(frames, tmp_path):
    X, Y, X_test = frames
    options = {"budget": "2m", "space": "fast", "folds": 3, "max_trials": 2, "seed": 1}
    model = automoa.AutoMoAClassifier(**options).fit(X, Y)
    result = automoa.search((X, Y), workdir=tmp_path / "w", **options)
    result.export(tmp_path / "bundle")  # members re-trained here (the search kept no models)
    loaded = automoa.load(tmp_path / "bundle")
    np.testing.assert_allclose(loaded.predict_proba(X_test), model.predict_proba(X_test), atol=1e-5)
    pd.testing.assert_frame_equal(
        result.leaderboard().drop(columns="seconds"), model.leaderboard_.drop(columns="seconds")
    )


def test_cli_and_api_give_the_same_leaderboard(tmp_path):
    data = "bundled:yeast"
    options = ["--space", "fast", "--seed", "2", "--max-trials", "3", "--budget", "2m"]
    cli = CliRunner().invoke(
        app, ["search", "--data", data, "--workdir", str(tmp_path / "cli"), *options]
    )
    assert cli.exit_code == 0, cli.output
    api = automoa.search(
        data, budget="2m", space="fast", seed=2, max_trials=3, workdir=tmp_path / "api"
    )
    from_cli = automoa.leaderboard(automoa.open_study(workdir=tmp_path / "cli"))
    columns = ["rank", "trial", "family", "cv_log_loss", "fold_std", "state"]
    pd.testing.assert_frame_equal(from_cli[columns], api.leaderboard()[columns])


def test_extras_need_data_in_memory_and_tuples_need_two_items(frames, tmp_path):
    X, Y, X_test = frames
    with pytest.raises(ConfigError, match="X_test: only with data given as \\(X, Y\\)"):
        automoa.search("bundled:yeast", budget="1m", workdir=tmp_path, X_test=X_test)
    with pytest.raises(ConfigError, match="got a 3-tuple"):
        automoa.search((X, Y, X_test), budget="1m", workdir=tmp_path)


def test_groups_in_memory_make_group_aware_folds(frames, tmp_path):
    X, Y, _ = frames
    groups = np.repeat(np.arange(60), 5)  # 60 groups of 5 rows
    result = automoa.search(
        (X, Y), budget="1m", space="fast", folds=3, workdir=tmp_path, max_trials=1, groups=groups
    )
    from automoa.search.study import read_meta

    meta = read_meta(result.study)
    assert meta.group_folds
    fold_of = meta.folds
    for group in range(60):  # a group never spans two folds
        assert len(np.unique(fold_of[groups == group])) == 1
