import time

import pytest

import automoa
from automoa.api import ensemble_reserve, resolve_device
from automoa.exceptions import ConfigError, StudyError
from automoa.search.study import search_runs


def test_public_api_search_open_study_leaderboard(tmp_path):
    data = automoa.datasets.load_yeast()
    outcome = automoa.search(data, budget="1m", space="fast", workdir=tmp_path, max_trials=2)
    assert outcome.trials_run == 2
    study = automoa.open_study(workdir=tmp_path)  # the only study there
    board = automoa.leaderboard(study)
    complete = board[board["state"] == "COMPLETE"]
    assert len(complete) == 2 and complete["cv_log_loss"].is_monotonic_increasing  # best first
    assert board.loc[0, "rank"] == 1
    # The first families' defaults, linear first, then cheapest first; the others are queued
    # one at a time, when the time left fits them, so none waits after the run.
    assert "linear" in set(complete["family"]) and complete["family"].nunique() == 2
    assert not (board["state"] == "WAITING").any()


def test_open_study_needs_a_name_when_there_are_several(tmp_path):
    data = automoa.datasets.load_yeast()
    for name in ("a", "b"):
        automoa.search(data, budget="1m", space="fast", workdir=tmp_path, study=name, max_trials=1)
    with pytest.raises(StudyError, match=r"name one of the studies in .*: a, b"):
        automoa.open_study(workdir=tmp_path)


def test_every_search_invocation_is_recorded_with_its_budget(tmp_path):
    data = automoa.datasets.load_yeast()
    automoa.search(data, budget="1m", space="fast", workdir=tmp_path, max_trials=1)
    automoa.search(data, budget="90s", space="fast", workdir=tmp_path, max_trials=2)
    runs = search_runs(automoa.open_study(workdir=tmp_path))
    assert [(r.budget_seconds, r.trials_run, r.stopped_by, r.workers) for r in runs] == [
        (60.0, 1, "trials", 1),
        (90.0, 2, "trials", 1),
    ]
    assert runs[0].started <= runs[1].started and all(0 < r.seconds < 90 for r in runs)


def test_devices():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    with pytest.raises(ConfigError, match="--device"):
        resolve_device("tpu")


def test_max_trials_must_be_positive(tmp_path):
    with pytest.raises(ConfigError, match="--max-trials"):
        automoa.search("bundled:yeast", budget="10s", workdir=tmp_path, max_trials=0)


def test_the_ensemble_keeps_a_share_of_the_budget_with_a_floor_for_short_ones():
    assert ensemble_reserve(10, extra_seeds=0) == 2.0  # 5% would be 0.5 s, too short to load
    assert ensemble_reserve(5, extra_seeds=0) == 1.0  # never more than a fifth
    assert ensemble_reserve(600, extra_seeds=0) == 30.0
    assert ensemble_reserve(3600, extra_seeds=0) == 120.0  # at most 2 minutes
    assert ensemble_reserve(3600, extra_seeds=1) == 120.0 + 360.0  # plus 10% for seeds


def test_the_budget_counts_from_the_start_it_is_given(tmp_path):
    data = automoa.datasets.load_yeast()
    # A caller (the command line) that spent its 20 seconds before the call leaves no time.
    spent = automoa.search(
        data, budget="20s", space="fast", workdir=tmp_path, started=time.perf_counter() - 20
    )
    assert spent.trials_run == 0 and spent.prior_only
    assert spent.seconds < 20  # nothing waited for the budget
