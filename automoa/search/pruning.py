"""Fold-level pruning of clearly bad trials."""

from __future__ import annotations

import numpy as np
import optuna
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial, TrialState


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
        if step is None:
            return False
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(complete) < self.n_startup_trials:
            return False
        values = [t.intermediate_values[step] for t in complete if step in t.intermediate_values]
        if not values:
            return False
        threshold = float(np.percentile(values, self.percentile))
        return trial.intermediate_values[step] > threshold + self.margin * abs(threshold)
