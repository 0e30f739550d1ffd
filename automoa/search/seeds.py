"""Seed siblings: extra-seed copies of selected ensemble members, trained as study trials.

The MoA winners re-trained their final models with several seeds and averaged them. The
ensemble step asks for such copies of its selected members; each copy (a *seed sibling*) is
an ordinary trial of the study: its origin's parameters, enqueued with the user attributes
``seed_of`` (the origin's number) and ``seed`` (its own), and run by the search's
:class:`~automoa.search.controller.Objective`. Everything that reads trials (artifact store,
leaderboard, export's refit from the ``seed`` attribute) therefore works on it unchanged,
while the search leaves it alone: it is never pruned, never refused as a repeat and never a
competitor at a halving rung (:func:`~automoa.search.pruning.is_seed_sibling`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial, TrialState

from automoa.data.dataset import Dataset
from automoa.deadline import Deadline
from automoa.exceptions import ConfigError
from automoa.preprocessing.cache import StepCache
from automoa.search.controller import Objective, measured_fold_seconds, run_trial
from automoa.search.pruning import is_seed_sibling
from automoa.search.record import TrialRecord
from automoa.search.study import StudyLocation, read_meta_for
from automoa.spaces import config_from_params, space_from_json

#: Seed offset between an origin and its k-th sibling (``origin seed + SEED_STRIDE * k``): a
#: prime far above any fold index, so that no sibling fold shares a seed with another trial's.
SEED_STRIDE = 1_000_003


@dataclass(frozen=True)
class SeedSiblings:
    """What :func:`train_seed_siblings` left in the study.

    Attributes:
        siblings: per origin trial number (every complete origin asked for), its complete
            siblings of the asked seeds in seed order, those found already trained included.
        trained: the siblings this call trained (and completed).
        notes: one line per sibling not trained or not completed, saying why.
    """

    siblings: dict[int, tuple[int, ...]]
    trained: tuple[int, ...]
    notes: tuple[str, ...]


def sibling_seed(origin_seed: int, k: int) -> int:
    """The seed of the ``k``-th (1-based) seed sibling of a trial fitted with ``origin_seed``."""
    return origin_seed + SEED_STRIDE * k


def seed_groups(trials: Iterable[FrozenTrial]) -> dict[int, list[int]]:
    """Each search trial's number mapped to ``[itself, its complete siblings...]``.

    Siblings are ordered by seed and never appear as keys; a trial without siblings maps to
    ``[itself]``. Every trial given that is not a sibling is a key, whatever its state.

    Args:
        trials: the study's trials (e.g. ``study.get_trials(deepcopy=False)``).

    Returns:
        The groups, keyed by origin number in trial order.
    """
    trials = list(trials)
    groups: dict[int, list[int]] = {
        t.number: [t.number]
        for t in sorted(trials, key=lambda t: t.number)
        if not is_seed_sibling(t)
    }
    siblings = sorted(
        (t for t in trials if is_seed_sibling(t) and t.state == TrialState.COMPLETE),
        key=lambda t: (int(TrialRecord.read(t).seed or 0), t.number),
    )
    for sibling in siblings:
        origin = TrialRecord.read(sibling).seed_of
        if origin in groups:
            groups[origin].append(sibling.number)
    return groups


def train_seed_siblings(
    study: optuna.Study,
    location: StudyLocation,
    dataset: Dataset,
    origins: Sequence[int],
    *,
    n_extra_seeds: int,
    deadline: Deadline,
    device: str | None = None,
    keep_models: bool | None = None,
) -> SeedSiblings:
    """Train ``n_extra_seeds`` extra-seed copies of each origin trial as trials of ``study``.

    For each origin (in the order given: the most important first) and each ``k`` in
    ``1..n_extra_seeds``, the origin's configuration is cross-validated again on the study's
    folds with seed ``origin seed + SEED_STRIDE * k`` (fold ``i`` fits with that seed ``+ i``),
    as a new trial recording ``seed_of`` and ``seed``: its OOF / test predictions, fold scores
    and (when kept) fold models are stored like any trial's, and its value is its own CV score.

    A sibling already complete (or running in another worker) is not trained again, so a
    resumed ensemble step costs nothing. A sibling starts only if its cross-validation is
    predicted to finish before ``deadline``: from the origin's measured folds, else from the
    search's cost model calibrated on the study's finished trials; one that runs out of time
    anyway is pruned, never left half-written. A sibling that fails does not stop the others.

    Args:
        study: the study (its trials are read and the siblings added to it).
        location: where the study's artifacts and preprocessing cache are.
        dataset: the data the study was created on.
        origins: complete (non-sibling) trial numbers; others are skipped with a note.
        n_extra_seeds: siblings per origin (0: train nothing, report what exists).
        deadline: no sibling starts that is predicted to miss it.
        device: where to train; ``None``: the device each origin ran on.
        keep_models: save the siblings' fold models; ``None``: when the origin's were kept.

    Returns:
        The siblings per origin, those trained now, and why others were not.

    Raises:
        ConfigError: ``n_extra_seeds`` is negative.
        StudyError: the study is not an automoa study, or was created on other data.
        KeyboardInterrupt: Ctrl-C; the running sibling is recorded as failed first.
    """
    if isinstance(n_extra_seeds, bool) or not isinstance(n_extra_seeds, int) or n_extra_seeds < 0:
        raise ConfigError(f"n_extra_seeds: expected an integer >= 0, got {n_extra_seeds!r}")
    meta = read_meta_for(study, dataset)
    space = space_from_json(meta.space_json)
    n_splits = int(meta.folds.max()) + 1
    artifacts = location.open_artifacts()
    cache = StepCache(location.cache_dir)
    siblings: dict[int, list[int]] = {}
    trained: list[int] = []
    notes: list[str] = []
    for number in dict.fromkeys(origins):  # once each, in the order given
        origin = _trial(study, number)
        if origin is None or origin.state != TrialState.COMPLETE or is_seed_sibling(origin):
            what = "a seed sibling" if origin is not None and is_seed_sibling(origin) else None
            state = "missing" if origin is None else origin.state.name
            notes.append(f"trial {number}: skipped, {what or f'not a complete trial ({state})'}")
            continue
        siblings[number] = []
        record = TrialRecord.read(origin)
        origin_seed = int(record.seed or 0)
        objective = Objective(
            dataset,
            meta,
            space,
            artifacts,
            deadline,
            meta.fold_seed,
            device or str(record.device or "cpu"),
            cache,
            keep_models if keep_models is not None else record.models_artifact is not None,
        )
        config = config_from_params(space, origin.params)
        for k in range(1, n_extra_seeds + 1):
            seed = sibling_seed(origin_seed, k)
            label = f"trial {number}, seed {seed}"
            trials = study.get_trials(deepcopy=False)  # fresh: other workers may add siblings
            done = _sibling(trials, number, seed, (TrialState.COMPLETE,))
            if done is not None:
                siblings[number].append(done.number)
                notes.append(f"{label}: already trained (trial {done.number})")
                continue
            running = _sibling(trials, number, seed, (TrialState.RUNNING,))
            if running is not None:
                notes.append(f"{label}: being trained by another worker (trial {running.number})")
                continue
            objective.cost.observe_trials(trials)
            per_fold = measured_fold_seconds(origin) or objective.cost.fold_seconds(config)
            needed = per_fold * n_splits
            if not deadline.can_fit(needed):
                notes.append(
                    f"{label}: not enough time: needs ~{needed:.1f}s, "
                    f"{max(deadline.remaining(), 0.0):.1f}s left"
                )
                continue
            trial = _claim(study, origin, seed)
            if trial is None:
                notes.append(f"{label}: taken by another worker")
                continue
            run = run_trial(study, trial, objective)
            if run.interrupted:
                raise KeyboardInterrupt
            if run.state == TrialState.COMPLETE:
                siblings[number].append(run.number)
                trained.append(run.number)
            else:
                notes.append(f"{label}: trial {run.number} {run.state.name.lower()}: {run.reason}")
    return SeedSiblings(
        siblings={number: tuple(found) for number, found in siblings.items()},
        trained=tuple(trained),
        notes=tuple(notes),
    )


def _trial(study: optuna.Study, number: int) -> FrozenTrial | None:
    for trial in study.get_trials(deepcopy=False):
        if trial.number == number:
            return trial
    return None


def _sibling(
    trials: Iterable[FrozenTrial], origin: int, seed: int, states: tuple[TrialState, ...]
) -> FrozenTrial | None:
    for trial in trials:
        record = TrialRecord.read(trial)
        if trial.state in states and record.seed_of == origin and record.seed == seed:
            return trial
    return None


def _claim(study: optuna.Study, origin: FrozenTrial, seed: int) -> optuna.Trial | None:
    """The sibling's trial, RUNNING in this process: a queued one (e.g. the retry of a sibling
    whose worker died) or a new one enqueued now; ``None`` if another worker took it first.

    Claimed by id, as ``study.ask()`` would: ``ask`` pops the oldest queued trial, which may be
    another worker's.
    """
    waiting = (TrialState.WAITING,)
    queued = _sibling(
        study.get_trials(deepcopy=False, states=waiting), origin.number, seed, waiting
    )
    if queued is None:
        sibling = TrialRecord(seed_of=origin.number, seed=seed)
        study.enqueue_trial(origin.params, user_attrs=sibling.attrs())
        trials = study.get_trials(deepcopy=False, states=waiting)
        queued = _sibling(trials, origin.number, seed, waiting)
    if queued is None:
        return None  # popped by another worker's search between the two calls
    try:
        if not study._storage.set_trial_state_values(queued._trial_id, state=TrialState.RUNNING):
            return None
    except optuna.exceptions.UpdateFinishedTrialError:
        return None
    return optuna.Trial(study, queued._trial_id)
