"""What one search invocation runs with: :class:`SearchSettings`, and the events its hooks hear.

The same settings travel from :func:`automoa.api.search` through
:func:`~automoa.search.workers.run_workers` to every worker's
:func:`~automoa.search.controller.run_search`, instead of a dozen keyword arguments threaded
through each layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from automoa.search.callbacks import StudyCallback
from automoa.search.study import StudyMeta


@dataclass(frozen=True)
class TrialEvent:
    """What the progress display hears after each trial."""

    number: int
    state: str
    family: str
    value: float | None
    seconds: float
    reason: str | None
    best_value: float | None


@dataclass(frozen=True)
class SearchSettings:
    """The options of one search invocation.

    Attributes:
        budget_seconds: wall clock for this invocation, study set-up included.
        n_splits: number of folds (fixed at study creation).
        seed: the study seed (folds, sampler, model seeds).
        device: ``cpu`` or ``cuda`` for families that can use it.
        max_trials: stop after this many new trials (``None``: only the budget stops).
        keep_models: save every complete trial's fitted fold models as an artifact (export
            then ships them instead of re-training; costs disk space).
        on_start: called once with the study facts and the number of trials started before
            this run (queued, never-started trials not counted).
        on_trial: called after every trial.
        callbacks: Optuna-style callbacks, each called as ``callback(study, frozen_trial)``
            after every trial (e.g. optuna-integration's ``MLflowCallback``).
    """

    budget_seconds: float
    n_splits: int = 5
    seed: int = 0
    device: str = "cpu"
    max_trials: int | None = None
    keep_models: bool = False
    on_start: Callable[[StudyMeta, int], None] | None = None
    on_trial: Callable[[TrialEvent], None] | None = None
    callbacks: Sequence[StudyCallback] = ()

    def for_worker(self) -> SearchSettings:
        """These settings for a worker process: no trial limit and no hooks.

        The parent counts trials for all workers together and calls the hooks itself (they
        need not be picklable); each worker sets its own budget from the common deadline.
        """
        return replace(
            self,
            max_trials=None,
            on_start=None,
            on_trial=None,
            callbacks=(),
        )
