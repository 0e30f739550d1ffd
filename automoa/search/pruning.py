"""Fold-level pruning of clearly bad trials."""

from __future__ import annotations

import numpy as np
import optuna
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial, TrialState

from automoa.search.record import TrialRecord


def is_seed_sibling(trial: FrozenTrial | optuna.Trial) -> bool:
    """Whether ``trial`` re-trains another trial's configuration with another seed.

    Such a trial is not a search candidate: it is never pruned, never a competitor at a rung
    and never the target of a repeat refusal (its :attr:`TrialRecord.seed_of` is set).
    """
    return TrialRecord.read(trial).seed_of is not None


class MarginPercentilePruner(BasePruner):
    """Prune a trial whose running CV loss is clearly worse than most complete trials.

    At fold ``k`` the trial's mean loss over folds ``0..k`` is compared with the
    ``percentile``-th percentile of the complete trials' values at the same fold; it is pruned
    only if it exceeds that by more than ``margin`` (relative). Optuna's ``PercentilePruner``
    alone prunes near-ties on flat landscapes (a trial 0.5% off the best is "worst quarter" when
    most trials agree to 0.1%); the margin keeps pruning to clearly bad trials.

    Args:
        percentile: the percentile of complete trials to compare with (75: the worst quarter).
        margin: relative tolerance above that percentile.
        n_startup_trials: no pruning before this many complete trials.
    """

    def __init__(
        self, percentile: float = 75.0, margin: float = 0.01, n_startup_trials: int = 5
    ) -> None:
        if not 0.0 <= percentile <= 100.0:
            raise ValueError(f"percentile must be in [0, 100], got {percentile}")
        if margin < 0:
            raise ValueError(f"margin must be >= 0, got {margin}")
        self.percentile = percentile
        self.margin = margin
        self.n_startup_trials = n_startup_trials

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or is_seed_sibling(trial):
            return False
        # Siblings repeat a selected (good) member: counting them would bias the percentile.
        complete = [
            t
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if not is_seed_sibling(t)
        ]
        if len(complete) < self.n_startup_trials:
            return False
        values = [t.intermediate_values[step] for t in complete if step in t.intermediate_values]
        if not values:
            return False
        threshold = float(np.percentile(values, self.percentile))
        return trial.intermediate_values[step] > threshold + self.margin * abs(threshold)


class FoldHalvingPruner(BasePruner):
    """Successive halving with the fold as the resource, then the margin rule.

    At a rung (a fold index in ``rung_steps``) a trial goes on only if its mean loss over the
    folds so far is among the best ``1 / reduction_factor`` of every trial that reached the same
    rung (itself included; pruned and running trials count, as in asynchronous successive
    halving). Every trial runs the same folds in the same order, so rung values are comparable.
    Until ``min_competitors`` other trials have reached a rung it promotes everything, so the
    first (queued) trials of a study complete. Halving only pays when the folds it saves are
    worth the information it loses: with ``min_remaining_seconds``, a trial competes at a rung
    only if its remaining folds (``predicted_fold_seconds`` user attribute x folds left) would
    take at least that long, so cheap trials on small data run every fold. The threshold is in
    seconds, not a share of the budget, so that every budget makes the same decisions: a longer
    search replays a shorter one's trials before it goes further (with a share, the 15-minute
    search let trials run whole that the 5-minute one pruned, the two diverged from the first
    trials, and on yeast, emotions and scene the longer search ended with worse held-out scores).
    The first trial of a model family (``family`` user attribute) to reach a rung goes on when
    its loss is within ``family_margin`` of the rung's best: the ensemble needs each family's
    best guess whole (on 24k rows the tabnet start, 2% behind the MLPs after one fold, was
    pruned and the 15-minute ensemble held MLPs only). Between rungs the
    :class:`MarginPercentilePruner` still stops clearly bad trials. Seed
    siblings (:func:`is_seed_sibling`) are never pruned and never compete: they re-run members
    already selected, and their (good) values would crowd a rung's best third.

    Args:
        rung_steps: fold indices after which a trial competes (0: after the first fold, the
            cheap rung; a later rung measured on 24k-row data pruned near-best networks after
            three of five folds, when most of their cost was spent).
        reduction_factor: 1 in ``reduction_factor`` trials is promoted at each rung.
        min_competitors: other trials needed at a rung before it prunes.
        margin: the margin rule used between rungs (the default: 1% over the 75th percentile).
        n_splits: the study's folds (to count the folds a trial has left).
        min_remaining_seconds: predicted seconds the remaining folds must take to compete
            (``None``: every trial competes).
        family_margin: relative distance to the rung's best within which a family's first
            trial goes on (``None``: no exception for a family's first trial).
    """

    def __init__(
        self,
        rung_steps: tuple[int, ...] = (0,),
        reduction_factor: float = 3.0,
        min_competitors: int = 2,
        margin: BasePruner | None = None,
        n_splits: int = 5,
        min_remaining_seconds: float | None = None,
        family_margin: float | None = 0.05,
    ) -> None:
        if reduction_factor < 1:
            raise ValueError(f"reduction_factor must be >= 1, got {reduction_factor}")
        self.rung_steps = frozenset(rung_steps)
        self.reduction_factor = reduction_factor
        self.min_competitors = min_competitors
        self.margin = margin or MarginPercentilePruner()
        self.n_splits = n_splits
        self.min_remaining_seconds = min_remaining_seconds
        self.family_margin = family_margin

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or is_seed_sibling(trial):
            return False
        if (
            step in self.rung_steps
            and self._worth_halving(trial, step)
            and not self._promoted(study, trial, step)
            and not self._first_of_its_family(study, trial, step)
        ):
            return True
        return self.margin.prune(study, trial)

    def _worth_halving(self, trial: FrozenTrial, step: int) -> bool:
        predicted = TrialRecord.read(trial).predicted_fold_seconds
        if self.min_remaining_seconds is None or predicted is None:
            return True
        folds_left = max(self.n_splits - step - 1, 0)
        return predicted * folds_left >= self.min_remaining_seconds

    def _first_of_its_family(self, study: optuna.Study, trial: FrozenTrial, step: int) -> bool:
        """Whether no other trial of ``trial``'s family went past this rung and ``trial`` is
        within ``family_margin`` of the best value there."""
        family = TrialRecord.read(trial).family
        if family is None or self.family_margin is None:
            return False
        best = trial.intermediate_values[step]
        for other in study.get_trials(deepcopy=False):
            if other.number == trial.number or is_seed_sibling(other):
                continue
            if TrialRecord.read(other).family == family and (
                other.state == TrialState.COMPLETE or step + 1 in other.intermediate_values
            ):
                return False
            if step in other.intermediate_values:
                best = min(best, other.intermediate_values[step])
        return trial.intermediate_values[step] <= best * (1.0 + self.family_margin)

    def _promoted(self, study: optuna.Study, trial: FrozenTrial, step: int) -> bool:
        own = trial.intermediate_values[step]
        others = [
            t.intermediate_values[step]
            for t in study.get_trials(deepcopy=False)
            if t.number != trial.number and step in t.intermediate_values and not is_seed_sibling(t)
        ]
        if len(others) < self.min_competitors:
            return True
        values = sorted([*others, own])
        n_promoted = max(1, int(np.ceil(len(values) / self.reduction_factor)))
        return own <= values[n_promoted - 1]


def rung_counts(trials: list[FrozenTrial], n_splits: int) -> dict[int, int]:
    """Search trials by the number of folds they finished (1..n_splits), for reports.

    Seed siblings are left out: they are re-runs of selected members, not halving candidates.
    """
    counts = dict.fromkeys(range(1, n_splits + 1), 0)
    for trial in trials:
        if is_seed_sibling(trial):
            continue
        done = len(TrialRecord.read(trial).fold_scores or [])
        if trial.state == TrialState.COMPLETE:
            done = n_splits
        if done:
            counts[min(done, n_splits)] += 1
    return counts
