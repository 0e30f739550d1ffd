import optuna
import pytest

from automoa.search.pruning import MarginPercentilePruner


def _study_with_complete(values_per_trial, pruner):
    study = optuna.create_study(pruner=pruner)
    for fold_values in values_per_trial:
        trial = study.ask()
        for step, value in enumerate(fold_values):
            trial.report(value, step)
        study.tell(trial, fold_values[-1])
    return study


def _prunes(study, fold_values):
    trial = study.ask()
    for step, value in enumerate(fold_values):
        trial.report(value, step)
    decision = trial.should_prune()
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    return decision


def test_prunes_only_clearly_bad_trials():
    pruner = MarginPercentilePruner(percentile=75, margin=0.01, n_startup_trials=3)
    study = _study_with_complete([[0.440], [0.442], [0.444], [0.446]], pruner)
    # 75th percentile of [0.440 .. 0.446] is 0.4445; +1% is 0.4489.
    assert not _prunes(study, [0.448])  # worse than most, but within the margin: kept
    assert _prunes(study, [0.46])  # clearly bad: pruned


def test_compares_at_the_same_fold():
    pruner = MarginPercentilePruner(n_startup_trials=2)
    study = _study_with_complete([[0.5, 0.30], [0.5, 0.31]], pruner)
    assert not _prunes(study, [0.5])  # fold 0 on par
    assert _prunes(study, [0.5, 0.40])  # fold 1 far worse


def test_no_pruning_during_startup():
    pruner = MarginPercentilePruner(n_startup_trials=5)
    study = _study_with_complete([[0.1]] * 4, pruner)
    assert not _prunes(study, [10.0])


@pytest.mark.parametrize("kwargs", [{"percentile": 120}, {"margin": -0.1}])
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        MarginPercentilePruner(**kwargs)
