import numpy as np
import optuna
import pytest

from automoa.data import load
from automoa.deadline import Deadline
from automoa.exceptions import ConfigError
from automoa.search.artifacts import load_array
from automoa.search.controller import Objective, run_search
from automoa.search.objective import TrialStopped, evaluate
from automoa.search.seeds import SEED_STRIDE, seed_groups, train_seed_siblings
from automoa.search.settings import SearchSettings
from automoa.search.study import read_meta, resolve_location
from automoa.spaces import PipelineConfig, load_space, space_from_json

COMPLETE = optuna.trial.TrialState.COMPLETE
# Two cheap families: the linear path and a small XGBoost (row and column subsampling, so its
# predictions depend on the seed). One XGBoost thread: on a loaded 2-core machine, two OpenMP
# threads turned 0.1 s folds into 20 s ones.
SPACE = """name: seeds
models:
  linear:
    params: {C_min: 1.0e-3, C_max: 1.0, path_size: 4}
  xgboost:
    params:
      n_estimators: 15
      max_depth: 2
      subsample: 0.8
      colsample_bytree: 0.3
      max_bin: 32
      n_jobs: 1
"""


@pytest.fixture(scope="module")
def yeast():
    return load("bundled:yeast")


@pytest.fixture(scope="module")
def searched(yeast, tmp_path_factory):
    """A study with a complete linear (0) and xgboost (1) trial and two siblings of each."""
    tmp = tmp_path_factory.mktemp("seeds")
    (tmp / "space.yaml").write_text(SPACE)
    location = resolve_location("s", tmp)
    run_search(
        yeast,
        location,
        load_space(tmp / "space.yaml"),
        SearchSettings(budget_seconds=120, max_trials=2),
    )
    # A pruner that would stop every trial after its first fold: siblings never consult it.
    study = optuna.load_study(
        study_name="s", storage=location.storage, pruner=optuna.pruners.ThresholdPruner(upper=0.0)
    )
    families = [t.user_attrs["family"] for t in study.trials]
    assert families == ["linear", "xgboost"] and all(t.state == COMPLETE for t in study.trials)
    result = train_seed_siblings(
        study, location, yeast, [1, 0], n_extra_seeds=2, deadline=Deadline(120)
    )
    return study, location, result


def _sibling_trials(study, origin):
    return [t for t in study.get_trials() if t.user_attrs.get("seed_of") == origin]


def test_siblings_are_complete_trials_with_their_own_seeds(searched):
    study, _, result = searched
    # The most important member (given first) is trained first.
    assert result.siblings == {1: (2, 3), 0: (4, 5)} and result.trained == (2, 3, 4, 5)
    assert result.notes == ()
    for origin in (0, 1):
        first = study.trials[origin]
        siblings = _sibling_trials(study, origin)
        assert [t.user_attrs["seed"] for t in siblings] == [SEED_STRIDE, 2 * SEED_STRIDE]
        for sibling in siblings:
            assert sibling.state == COMPLETE and np.isfinite(sibling.value)
            assert sibling.params == first.params
            assert sibling.user_attrs["config"] == first.user_attrs["config"]
            assert sibling.user_attrs["family"] == first.user_attrs["family"]
            assert len(sibling.user_attrs["fold_scores"]) == 5
            assert "prune_reason" not in sibling.user_attrs


def test_sibling_predictions_are_aligned_and_differ_from_the_origin(searched, yeast):
    study, location, _ = searched
    store = location.open_artifacts().store
    origin = load_array(store, study.trials[1].user_attrs["oof_artifact"])
    oofs = [load_array(store, t.user_attrs["oof_artifact"]) for t in _sibling_trials(study, 1)]
    for oof, sibling in zip(oofs, _sibling_trials(study, 1), strict=True):
        assert oof.shape == origin.shape == yeast.Y.shape and oof.dtype == np.float32
        test = load_array(store, sibling.user_attrs["test_artifact"])
        assert test.shape == (yeast.X_test.shape[0], yeast.n_labels)
    # XGBoost subsamples rows and columns: another seed, other predictions.
    assert not np.allclose(oofs[0], origin) and not np.allclose(oofs[0], oofs[1])


def test_a_sibling_is_reproduced_from_its_recorded_seed(searched, yeast):
    study, location, _ = searched
    sibling = _sibling_trials(study, 1)[1]
    config = PipelineConfig.from_dict(sibling.user_attrs["config"])
    again = evaluate(config, yeast, read_meta(study).folds, seed=sibling.user_attrs["seed"])
    assert again.cv_score == sibling.value
    store = location.open_artifacts().store
    assert np.array_equal(again.oof, load_array(store, sibling.user_attrs["oof_artifact"]))


def test_a_second_call_trains_nothing_again(searched, yeast):
    study, location, _ = searched
    n_trials = len(study.get_trials())
    again = train_seed_siblings(
        study, location, yeast, [0, 1], n_extra_seeds=2, deadline=Deadline(120)
    )
    assert len(study.get_trials()) == n_trials
    assert again.siblings == {0: (4, 5), 1: (2, 3)} and again.trained == ()
    assert len(again.notes) == 4 and all("already trained" in note for note in again.notes)


def test_nothing_starts_without_the_time_for_it(searched, yeast):
    study, location, _ = searched
    n_trials = len(study.get_trials())
    result = train_seed_siblings(
        study, location, yeast, [1, 0], n_extra_seeds=3, deadline=Deadline(0.0)
    )
    assert len(study.get_trials()) == n_trials and result.trained == ()
    assert result.siblings == {1: (2, 3), 0: (4, 5)}
    missed = [note for note in result.notes if "not enough time" in note]
    assert len(missed) == 2 and missed[0].startswith(f"trial 1, seed {3 * SEED_STRIDE}: ")
    assert "needs ~" in missed[0] and "0.0s left" in missed[0]


def test_origins_that_are_not_complete_search_trials_are_skipped(searched, yeast):
    study, location, _ = searched
    result = train_seed_siblings(
        study, location, yeast, [99, 2], n_extra_seeds=1, deadline=Deadline(120)
    )
    assert result.siblings == {} and result.trained == ()
    assert result.notes == (
        "trial 99: skipped, not a complete trial (missing)",
        "trial 2: skipped, a seed sibling",
    )
    with pytest.raises(ConfigError, match="n_extra_seeds"):
        train_seed_siblings(study, location, yeast, [0], n_extra_seeds=-1, deadline=Deadline(1))


def test_seed_groups_put_each_origin_before_its_siblings(searched):
    study, _, _ = searched
    trials = study.get_trials()[:6]  # the searched study, whatever other tests added
    assert seed_groups(trials) == {0: [0, 4, 5], 1: [1, 2, 3]}
    # Only the siblings given join a group; a lone trial is its own group.
    assert seed_groups(trials[:3]) == {0: [0], 1: [1, 2]}
    # Ordered by seed, not by trial number; an incomplete sibling joins no group.
    reordered = [trials[0], trials[1], trials[3], trials[2]]
    assert seed_groups(reordered) == {0: [0], 1: [1, 2, 3]}
    pruned = optuna.trial.create_trial(
        state=optuna.trial.TrialState.PRUNED, user_attrs={"seed_of": 0, "seed": 7}
    )
    assert seed_groups([trials[0], pruned]) == {0: [0]}


def test_a_sampler_repeat_of_an_origin_is_still_refused(searched, yeast):
    study, location, _ = searched
    meta = read_meta(study)
    objective = Objective(
        yeast,
        meta,
        space_from_json(meta.space_json),
        location.open_artifacts(),
        Deadline(120),
        meta.fold_seed,
        "cpu",
    )
    study.enqueue_trial(study.trials[1].params)  # what a sampler proposal would repeat
    trial = study.ask()
    try:
        with pytest.raises(TrialStopped, match=r"^repeat of trial 1: "):
            objective(trial)
    finally:
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
