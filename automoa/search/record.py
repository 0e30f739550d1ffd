"""The user attributes automoa keeps on each Optuna trial, as one typed record.

Every trial attribute automoa writes or reads goes through :class:`TrialRecord`: no other
module names an attribute by its string key. A field's name is its attribute's name in the
study, and its value is stored as it is (JSON), so that studies written before this record
existed read unchanged.

A trial's attributes are written at several moments (configuration when it starts, its
owner, fold results, artifacts, its outcome): each moment writes a partial record, whose unset
(``None``) fields are left alone in the study.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # optuna is only needed to type the trials
    import optuna
    from optuna.storages import BaseStorage
    from optuna.trial import FrozenTrial


@dataclass(frozen=True)
class TrialRecord:
    """A trial's automoa user attributes; ``None``: not (yet) recorded.

    Read from any trial, running or frozen (:meth:`read`); written, set fields only, to a
    running trial (:meth:`write`), to a trial by id (:meth:`write_to_storage`), or given as
    ``user_attrs`` to ``study.enqueue_trial`` (:meth:`attrs`). Fields are declared in the
    order they are written when several are written at once.

    Attributes:
        family: the model family of the trial's configuration (set when it starts; a RUNNING
            trial without it has not been sampled yet).
        config: the trial's pipeline configuration, as ``PipelineConfig.to_dict()``.
        seed: the model seed it is fitted with (fold ``i`` fits with ``seed + i``); a seed
            sibling is enqueued with it.
        device: where it trains, ``cpu`` or ``cuda``.
        predicted_fold_seconds: the seconds one of its folds was predicted to take when it
            started (the cost model's, or the measured folds of a seed sibling's origin).
        first_trial: set (``True``) on the trials queued before the sampler proposes (a
            space's known-good starts, the families' defaults).
        seed_of: the number of the trial whose configuration this seed sibling re-trains with
            another seed (see :mod:`automoa.search.seeds`); ``None`` on search trials.
        owner: the process running the trial, ``{"host", "pid", "beat"}``
            (:func:`automoa.search.owner.this_process`).
        oof_artifact: the artifact id of its out-of-fold predictions (a complete trial).
        models_artifact: the artifact id of its fold-model archive, when the models were kept.
        test_artifact: the artifact id of its test predictions, when the data has test rows.
        fold_scores: the log loss of each fold it finished, in fold order.
        fold_seconds: the wall seconds of each fold it finished, in fold order.
        fit_seconds: the sum of ``fold_seconds`` of a complete trial.
        cv_std: the standard deviation of a complete trial's fold scores.
        versions: the package versions its result depends on (name -> version).
        seconds: the wall seconds of the whole trial, as run (set when it ends).
        prune_reason: why it was stopped (pruned, out of time, a repeat).
        failure_reason: why it failed (the exception, Ctrl-C, its worker died).
    """

    family: str | None = None
    config: dict[str, Any] | None = None
    seed: int | None = None
    device: str | None = None
    predicted_fold_seconds: float | None = None
    first_trial: bool | None = None
    seed_of: int | None = None
    owner: dict[str, Any] | None = None
    oof_artifact: str | None = None
    models_artifact: str | None = None
    test_artifact: str | None = None
    fold_scores: list[float] | None = None
    fold_seconds: list[float] | None = None
    fit_seconds: float | None = None
    cv_std: float | None = None
    versions: dict[str, str] | None = None
    # ``seconds`` before the reasons: when the trial's end can no longer be written (another
    # worker finished it), neither is written.
    seconds: float | None = None
    prune_reason: str | None = None
    failure_reason: str | None = None

    @classmethod
    def read(cls, trial: FrozenTrial | optuna.Trial) -> TrialRecord:
        """The record of ``trial``, with its values as stored (unconverted).

        Args:
            trial: a running or a frozen trial.

        Returns:
            The record; the attributes the trial lacks (an older study's, or not written yet)
            are ``None``, and attributes that are not automoa's are ignored.
        """
        attrs = trial.user_attrs  # a running trial copies them all on each access: once
        return cls(**{name: attrs.get(name) for name in _NAMES})

    @property
    def reason(self) -> str | None:
        """Why the trial did not complete: its failure reason, else its prune reason."""
        return self.failure_reason or self.prune_reason

    def attrs(self) -> dict[str, Any]:
        """The set fields as user attributes (name -> stored value), in declaration order."""
        return {name: value for name in _NAMES if (value := getattr(self, name)) is not None}

    def write(self, trial: optuna.Trial) -> None:
        """Set the record's set fields on a trial; the trial's other attributes stay as they are.

        Args:
            trial: a running trial.
        """
        for name, value in self.attrs().items():
            trial.set_user_attr(name, value)

    def write_to_storage(self, storage: BaseStorage, trial_id: int) -> None:
        """Set the record's set fields on a trial this process does not run (such as another
        worker's dead one); the trial's other attributes stay as they are.

        Args:
            storage: the study's storage.
            trial_id: the trial's id in ``storage`` (not its number).
        """
        for name, value in self.attrs().items():
            storage.set_trial_user_attr(trial_id, name, value)


_NAMES = tuple(f.name for f in fields(TrialRecord))
