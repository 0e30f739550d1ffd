import optuna
import pytest

from automoa.search.pruning import (
    FoldHalvingPruner,
    MarginPercentilePruner,
    is_seed_sibling,
    rung_counts,
)
from automoa.search.record import TrialRecord


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


def _reach(study, fold_values, state=optuna.trial.TrialState.PRUNED, seed_of=None):
    """A trial that reported ``fold_values`` and ended (pruned trials compete at rungs too)."""
    trial = study.ask()
    if seed_of is not None:
        TrialRecord(seed_of=seed_of).write(trial)
    for step, value in enumerate(fold_values):
        trial.report(value, step)
    trial.set_user_attr("fold_scores", list(fold_values))
    study.tell(trial, fold_values[-1] if state.name == "COMPLETE" else None, state=state)


def test_halving_promotes_the_best_third_at_the_first_fold():
    study = optuna.create_study(pruner=FoldHalvingPruner(min_competitors=2))
    for value in (0.30, 0.40, 0.50, 0.60, 0.70):
        _reach(study, [value])
    # 6 trials at the rung with this one: the best 2 go on.
    assert not _prunes(study, [0.35])  # second best of 0.30 .. 0.70 and itself
    assert _prunes(study, [0.45])  # third of 7: out
    assert _prunes(study, [0.90])


def test_halving_lets_the_first_trials_through_and_ranks_by_fold_not_trial_order():
    study = optuna.create_study(pruner=FoldHalvingPruner(min_competitors=2))
    assert not _prunes(study, [0.9])  # alone at the rung
    assert not _prunes(study, [0.95])  # one competitor: still promoted
    # Two competitors: worse than both, so not in the best third.
    assert _prunes(study, [0.99])
    # A later rung (here after fold 3) compares means over folds 0..2 only with trials there.
    study = optuna.create_study(pruner=FoldHalvingPruner(rung_steps=(0, 2), min_competitors=2))
    for values in ([0.5, 0.5, 0.2], [0.5, 0.5, 0.3]):
        _reach(study, values, optuna.trial.TrialState.COMPLETE)
    assert not _prunes(study, [0.5, 0.5])  # between rungs: only the margin rule
    assert _prunes(study, [0.5, 0.5, 0.4])


def test_trials_are_counted_by_the_folds_they_finished():
    study = optuna.create_study()
    _reach(study, [0.5])
    _reach(study, [0.5, 0.4, 0.3])
    _reach(study, [0.5] * 5, optuna.trial.TrialState.COMPLETE)
    assert rung_counts(study.get_trials(), 5) == {1: 1, 2: 0, 3: 1, 4: 0, 5: 1}


def test_halving_leaves_trials_whose_remaining_folds_are_cheap():
    pruner = FoldHalvingPruner(min_competitors=2, n_splits=5, min_remaining_seconds=1.0)
    study = optuna.create_study(pruner=pruner)
    for value in (0.30, 0.40, 0.50):
        _reach(study, [value])

    def prunes(predicted_fold_seconds):
        trial = study.ask()
        trial.set_user_attr("predicted_fold_seconds", predicted_fold_seconds)
        trial.report(0.9, 0)
        decision = trial.should_prune()
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        return decision

    assert not prunes(0.2)  # 4 folds left x 0.2 s < 1 s: runs every fold
    assert prunes(0.3)  # 1.2 s >= 1 s: competes, and is the worst


def _sibling_prunes(study, fold_values):
    trial = study.ask()
    TrialRecord(seed_of=0).write(trial)
    for step, value in enumerate(fold_values):
        trial.report(value, step)
    decision = trial.should_prune()
    study.tell(trial, fold_values[-1])
    return decision


def test_a_seed_sibling_is_never_pruned():
    study = optuna.create_study(pruner=FoldHalvingPruner(min_competitors=2))
    for value in (0.30, 0.40, 0.50, 0.60, 0.70):
        _reach(study, [value], optuna.trial.TrialState.COMPLETE)
    assert _prunes(study, [0.90])  # a search trial this bad is pruned at the rung
    assert not _sibling_prunes(study, [0.90])  # a re-run of a selected member is not
    assert not _sibling_prunes(study, [0.90, 5.0])  # nor by the margin rule between rungs
    margin = MarginPercentilePruner(n_startup_trials=2)
    assert not margin.prune(study, study.trials[-1])
    assert is_seed_sibling(study.trials[-1]) and not is_seed_sibling(study.trials[0])


def test_seed_siblings_do_not_compete_at_a_rung():
    study = optuna.create_study(pruner=FoldHalvingPruner(min_competitors=2))
    for value in (0.30, 0.40, 0.50, 0.60, 0.70):
        _reach(study, [value])
    # Two siblings of the best trial, better still: counted, they would push 0.35 to 4th of 8.
    for value in (0.10, 0.20):
        _reach(study, [value], optuna.trial.TrialState.COMPLETE, seed_of=0)
    assert not _prunes(study, [0.35])  # second of the 6 search trials at the rung


def test_seed_siblings_do_not_move_the_margin_percentile():
    pruner = MarginPercentilePruner(percentile=75, margin=0.01, n_startup_trials=3)
    study = _study_with_complete([[0.440], [0.442], [0.444]], pruner)
    for _ in range(5):
        _reach(study, [0.30], optuna.trial.TrialState.COMPLETE, seed_of=0)
    # 75th percentile of the search trials is 0.443, +1% is 0.4474 (with the siblings: 0.4449).
    assert not _prunes(study, [0.447])


def test_rung_counts_leave_seed_siblings_out():
    study = optuna.create_study()
    _reach(study, [0.5] * 5, optuna.trial.TrialState.COMPLETE)
    _reach(study, [0.5] * 5, optuna.trial.TrialState.COMPLETE, seed_of=0)
    assert rung_counts(study.get_trials(), 5) == {1: 0, 2: 0, 3: 0, 4: 0, 5: 1}


def _family_prunes(study, family, fold_values):
    trial = study.ask()
    trial.set_user_attr("family", family)
    for step, value in enumerate(fold_values):
        trial.report(value, step)
    decision = trial.should_prune()
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    return decision


def test_the_first_trial_of_a_family_goes_on_when_it_is_close_to_the_best():
    study = optuna.create_study(pruner=FoldHalvingPruner(min_competitors=2))
    for value in (0.0135, 0.0136, 0.0137):
        trial = study.ask()
        trial.set_user_attr("family", "mlp")
        for step in range(5):
            trial.report(value, step)
        study.tell(trial, value)
    # Not in the best third, but tabnet's first trial, 2% behind the best: it goes on.
    assert not _family_prunes(study, "tabnet", [0.01378])
    # The same family's next one competes like any other trial.
    trial = study.ask()
    trial.set_user_attr("family", "tabnet")
    for step in range(5):
        trial.report(0.01378, step)
    study.tell(trial, 0.01378)
    assert _family_prunes(study, "tabnet", [0.01379])
    # A family's first trial far behind the best (here 30%) is pruned as usual.
    assert _family_prunes(study, "linear", [0.0176])
    assert _family_prunes(study, "mlp", [0.01379])  # mlp has complete trials
    # Without the exception, tabnet's first trial would have been pruned.
    plain = optuna.create_study(pruner=FoldHalvingPruner(min_competitors=2, family_margin=None))
    for value in (0.0135, 0.0136, 0.0137):
        _reach(plain, [value])
    assert _family_prunes(plain, "tabnet", [0.01378])
