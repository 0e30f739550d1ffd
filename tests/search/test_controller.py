import signal
import time

import numpy as np
import optuna
import pytest

from automoa.data import load
from automoa.data.dataset import Dataset
from automoa.exceptions import StudyError
from automoa.models import ModelFamily, register
from automoa.models.prior import FittedPrior, PriorFamily
from automoa.search.artifact_store import AtomicFileSystemArtifactStore
from automoa.search.artifacts import load_array
from automoa.search.controller import run_search
from automoa.search.cost import REFERENCE_SECONDS_PER_UNIT
from automoa.search.settings import SearchSettings
from automoa.search.study import resolve_location
from automoa.spaces import load_space


@pytest.fixture(scope="module")
def yeast():
    return load("bundled:yeast")


def _search(dataset, tmp_path, space="fast", **kwargs):
    location = resolve_location("s", tmp_path)
    space = space if not isinstance(space, str) else load_space(space)
    return run_search(dataset, location, space, SearchSettings(**{"budget_seconds": 120, **kwargs}))


def test_search_beats_prior_and_saves_aligned_oofs(yeast, tmp_path):
    outcome = _search(yeast, tmp_path, max_trials=3)
    study = outcome.study
    assert outcome.trials_run == 3 and outcome.stopped_by == "trials"
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete and min(t.value for t in complete) < outcome.meta.prior_cv_log_loss
    store = AtomicFileSystemArtifactStore(tmp_path / "artifacts")
    for trial in complete:
        oof = load_array(store, trial.user_attrs["oof_artifact"])
        assert oof.shape == yeast.Y.shape and oof.dtype == np.float32
        assert len(trial.user_attrs["fold_scores"]) == 5
        assert trial.user_attrs["versions"]["optuna"] == optuna.__version__
        test = load_array(store, trial.user_attrs["test_artifact"])
        assert test.shape == (yeast.X_test.shape[0], yeast.n_labels)
    assert not list((tmp_path / "artifacts").glob("**/.tmp-*"))


def test_resume_adds_trials_and_recomputes_nothing(yeast, tmp_path):
    first = _search(yeast, tmp_path, max_trials=2)
    # Queued (WAITING) first configurations of the new study are not finished trials.
    before = {t.number: (t.value, t.datetime_complete) for t in first.study.trials if t.value}
    assert len(before) == 2
    second = _search(yeast, tmp_path, max_trials=2)
    assert not second.created and len(second.study.trials) == 4
    after = {t.number: (t.value, t.datetime_complete) for t in second.study.trials}
    assert all(after[n] == before[n] for n in before)


def test_same_seed_same_trials_and_scores(yeast, tmp_path):
    # A budget that never binds: determinism is about trials and scores, not timing.
    a = _search(yeast, tmp_path / "a", space="default", max_trials=4, seed=7, budget_seconds=3600)
    b = _search(yeast, tmp_path / "b", space="default", max_trials=4, seed=7, budget_seconds=3600)
    assert [t.params for t in a.study.trials] == [t.params for t in b.study.trials]
    assert [t.value for t in a.study.trials] == [t.value for t in b.study.trials]
    assert np.array_equal(a.meta.folds, b.meta.folds)


def test_study_refuses_other_data(yeast, tmp_path):
    _search(yeast, tmp_path, max_trials=1)
    Y = yeast.Y.copy()
    Y[0, 0] ^= 1
    other = Dataset(**{**yeast.__dict__, "Y": Y, "fingerprint": "0" * 64})
    with pytest.raises(StudyError, match="created on other data"):
        _search(other, tmp_path, max_trials=1)


def test_study_refuses_a_changed_space_with_a_diff(yeast, tmp_path):
    _search(yeast, tmp_path, max_trials=1)
    changed = tmp_path / "changed.yaml"
    changed.write_text(
        "name: fast\nmodels:\n  linear:\n    params:\n"
        "      C_min: 1.0e-4\n      C_max: {type: float, low: 0.01, high: 5.0, log: true}\n"
    )
    with pytest.raises(StudyError, match="another search space") as error:
        _search(yeast, tmp_path, space=load_space(changed), max_trials=1)
    assert "models.linear.params.C_max" in str(error.value)


def test_study_refuses_other_folds(yeast, tmp_path):
    _search(yeast, tmp_path, max_trials=1)
    with pytest.raises(StudyError, match="--folds 5"):
        _search(yeast, tmp_path, max_trials=1, n_splits=3)


@register
class _FailingFamily(ModelFamily):
    name = "test_failing"
    fitted_class = FittedPrior

    def __init__(self) -> None:
        super().__init__()

    def _fit(self, X, Y, ctx):
        raise RuntimeError("boom in fit")


@register
class _SlowFamily(ModelFamily):
    """Runs until the deadline, checking it as a real epoch loop would."""

    name = "test_slow"
    fitted_class = FittedPrior

    def __init__(self) -> None:
        super().__init__()

    def _fit(self, X, Y, ctx):
        for _ in range(600):
            ctx.deadline.check("test_slow epochs")
            time.sleep(0.05)
        return PriorFamily().fit(X, Y)


@register
class _InterruptFamily(ModelFamily):
    name = "test_interrupt"
    fitted_class = FittedPrior

    def __init__(self) -> None:
        super().__init__()

    def _fit(self, X, Y, ctx):
        raise KeyboardInterrupt


def _space(tmp_path, family):
    path = tmp_path / f"{family}.yaml"
    path.write_text(f"name: {family}\nmodels:\n  {family}: {{}}\n")
    return load_space(path)


def test_failing_trial_is_recorded_and_search_goes_on(yeast, tmp_path):
    outcome = _search(yeast, tmp_path, space=_space(tmp_path, "test_failing"), max_trials=2)
    assert outcome.trials_run == 2
    for trial in outcome.study.trials:
        assert trial.state == optuna.trial.TrialState.FAIL
        assert trial.user_attrs["failure_reason"] == "RuntimeError: boom in fit"


def test_budget_stops_a_running_fit_and_prunes_the_trial(yeast, tmp_path, monkeypatch):
    # Predicted as free, so that it starts and the deadline (not the cost model) stops it.
    monkeypatch.setitem(REFERENCE_SECONDS_PER_UNIT, "test_slow", 0.0)
    started = time.perf_counter()
    outcome = _search(yeast, tmp_path, space=_space(tmp_path, "test_slow"), budget_seconds=3)
    assert time.perf_counter() - started < 6
    (trial,) = outcome.study.trials
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert trial.user_attrs["prune_reason"].startswith("budget")


def test_ctrl_c_fails_the_running_trial_and_keeps_finished_ones(yeast, tmp_path):
    _search(yeast, tmp_path / "run", max_trials=1)
    location = resolve_location("other", tmp_path / "run")
    outcome = run_search(
        yeast, location, _space(tmp_path, "test_interrupt"), SearchSettings(budget_seconds=60)
    )
    assert outcome.stopped_by == "interrupted"
    (trial,) = outcome.study.trials
    assert trial.state == optuna.trial.TrialState.FAIL
    assert "interrupted" in trial.user_attrs["failure_reason"]
    kept = optuna.load_study(study_name="s", storage=location.storage)
    assert kept.trials[0].state == optuna.trial.TrialState.COMPLETE


class _SendsCtrlCWhenCollected:
    """Receives SIGINT inside ``__del__``: its KeyboardInterrupt is printed and dropped."""

    def __del__(self):
        signal.raise_signal(signal.SIGINT)


@register
class _SwallowedInterruptFamily(ModelFamily):
    """Ctrl-C arrives while a finalizer runs (as SQLAlchemy's do): the fit itself finishes."""

    name = "test_swallowed_interrupt"
    fitted_class = FittedPrior

    def __init__(self) -> None:
        super().__init__()

    def _fit(self, X, Y, ctx):
        _SendsCtrlCWhenCollected()  # collected at once; the exception is swallowed
        return PriorFamily().fit(X, Y)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_swallowed_by_a_finalizer_still_stops_the_search(yeast, tmp_path, default_ctrl_c):
    space = _space(tmp_path, "test_swallowed_interrupt")
    location = resolve_location("s", tmp_path / "run")
    outcome = run_search(yeast, location, space, SearchSettings(budget_seconds=60, max_trials=3))
    assert outcome.stopped_by == "interrupted"
    (trial,) = outcome.study.trials  # stopped at the next fold, not at the end of the budget
    assert trial.state == optuna.trial.TrialState.FAIL
    assert "interrupted" in trial.user_attrs["failure_reason"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


@register
class _SleepyFamily(ModelFamily):
    """Takes a fixed time per fold, so later trials can be known not to fit the budget."""

    name = "test_sleepy"
    fitted_class = FittedPrior

    def __init__(self, seconds: float = 1.2) -> None:
        super().__init__(seconds=seconds)

    def _fit(self, X, Y, ctx):
        time.sleep(self.params["seconds"])
        return PriorFamily().fit(X, Y)


def test_search_goes_on_after_a_trial_that_cannot_fit_then_stops(yeast, tmp_path):
    # Each trial needs 5 x 1.2 s; after the first one the ~2.5 s left cannot fit another, which
    # is pruned without computing, and the search stops after 3 such trials in a row. (The
    # margins are wide so that a loaded machine's slower set-up does not expire the budget.)
    path = tmp_path / "sleepy.yaml"
    path.write_text("name: sleepy\nmodels:\n  test_sleepy: {}\n")
    outcome = _search(yeast, tmp_path, space=load_space(path), budget_seconds=9)
    states = [(t.state.name, t.user_attrs.get("prune_reason", "")) for t in outcome.study.trials]
    complete = [s for s, _ in states if s == "COMPLETE"]
    assert complete and len(complete) <= 2
    assert [s for s, _ in states[-3:]] == ["PRUNED"] * 3
    assert all(reason.startswith("budget: folds 0-4") for _, reason in states[-3:])


def test_a_trial_larger_than_its_share_of_the_budget_is_refused_once_there_is_a_result(
    yeast, tmp_path, monkeypatch
):
    # 5 folds x 0.3 s against a cap of 2% of 30 s (0.6 s): the first trial runs (the study's
    # first result is worth any share), the next ones are stopped before their first fold.
    from automoa.search import controller

    monkeypatch.setattr(controller, "MIN_TRIAL_CAP_SECONDS", 0.0)
    monkeypatch.setattr(controller, "MAX_TRIAL_SHARE", 0.02)
    path = tmp_path / "sleepy.yaml"
    path.write_text("name: sleepy\nmodels:\n  test_sleepy: {params: {seconds: 0.3}}\n")
    outcome = _search(yeast, tmp_path, space=load_space(path), budget_seconds=30, max_trials=3)
    first, *others = outcome.study.trials
    assert first.state == optuna.trial.TrialState.COMPLETE
    assert len(others) == 2
    for trial in others:
        assert trial.state == optuna.trial.TrialState.PRUNED
        assert "more than the 1s one trial may take" in trial.user_attrs["prune_reason"]
        assert not trial.user_attrs["fold_scores"] and not trial.intermediate_values


def test_the_trial_cap_is_a_share_of_the_budget_with_a_floor_for_one_network():
    from automoa.search.controller import trial_cap_seconds

    assert trial_cap_seconds(3600) == 720 and trial_cap_seconds(900) == 180
    assert trial_cap_seconds(60) == 180
    assert trial_cap_seconds(900, first_trial=True) == 360


@pytest.mark.slow
def test_a_longer_budget_replays_a_shorter_ones_trials(yeast, tmp_path, monkeypatch):
    # Every fold is predicted at 2 s, so a trial's 4 remaining folds (8 s) compete at the
    # halving rung. The pruning must not depend on the budget: when the threshold was 1% of the
    # budget, the 10-minute search pruned such trials and the 2-hour one ran them whole. (The
    # budgets are wide so that a loaded machine does not run out of time.)
    from automoa.search.cost import CostModel

    monkeypatch.setattr(CostModel, "fold_seconds", lambda self, config: 2.0)

    def trials(budget_seconds):
        outcome = _search(
            yeast, tmp_path / str(budget_seconds), max_trials=8, budget_seconds=budget_seconds
        )
        assert outcome.stopped_by == "trials"
        finished = outcome.study.trials
        reasons = [t.user_attrs.get("prune_reason", "") for t in finished]
        return [(t.state.name, t.params, t.value) for t in finished], reasons

    (short, reasons), (long, _) = trials(600), trials(7200)
    assert short == long
    assert any(r.startswith("pruned after fold 0") for r in reasons)  # the rung pruned
