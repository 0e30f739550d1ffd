"""The search loop: Optuna ask/tell over pipelines until the budget (or trial count) is spent."""

from __future__ import annotations

import contextlib
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import sklearn

from automoa._version import __version__
from automoa.data.dataset import Dataset
from automoa.deadline import Deadline
from automoa.exceptions import DataWarning, SearchSpaceError, StudyError
from automoa.folds import check_n_splits
from automoa.interrupts import interrupt_requested, latched_ctrl_c
from automoa.preprocessing.cache import CacheStats, StepCache
from automoa.search.artifact_store import StudyArtifacts
from automoa.search.artifacts import (
    save_array,
    save_fold_models_artifact,
)
from automoa.search.callbacks import run_callbacks
from automoa.search.checkpoints import FoldCheckpoints
from automoa.search.cost import CostModel, DataShape
from automoa.search.objective import TrialStopped, check_time_left, data_key, evaluate
from automoa.search.owner import this_process
from automoa.search.pruning import FoldHalvingPruner, is_seed_sibling
from automoa.search.record import TrialRecord
from automoa.search.settings import SearchSettings, TrialEvent
from automoa.search.storage import Heartbeat, fail_dead_trials
from automoa.search.study import StudyLocation, StudyMeta, open_study
from automoa.spaces import (
    PipelineConfig,
    SearchSpace,
    bind_data,
    config_from_params,
    default_params,
    sample,
    start_params,
)

#: Consecutive trials stopped for lack of time after which the search ends, once not even the
#: cheapest first trial fits the time left (before that, a cheaper proposal may still fit).
_MAX_BUDGET_PRUNES = 3
#: Consecutive trials stopped for lack of time after which the search ends regardless.
_MAX_BUDGET_SKIPS = 200
#: Share of the budget one trial's cross-validation may be predicted to take, once the study
#: has a result: at 60 minutes on 24k rows a single xgboost trial took 41% of the budget and
#: left too little for the sampler, so the longer search scored worse than the 15-minute one.
MAX_TRIAL_SHARE = 0.2
#: The cap never falls below this, so that a short budget can still afford one network.
MIN_TRIAL_CAP_SECONDS = 180.0
#: A queued first trial (a space's known-good start or a family default) may take this many
#: times the cap: the starts are worth more than a random proposal, and refusing them at 15
#: minutes on 24k rows (a cap of 180 s against a predicted ~190 s) left an ensemble of linear
#: models only (0.01482 held out, against 0.01445 with the tabnet and mlp starts).
FIRST_TRIAL_CAP_FACTOR = 2.0
#: A trial competes at a halving rung only if its remaining folds are predicted to take at
#: least this long; cheaper ones run every fold (on small data the folds it would save are
#: worth less than what pruning loses). Seconds, not a share of the budget: every budget then
#: prunes alike, so a longer search replays a shorter one's trials first (this was 1% of the
#: budget, the same 3 s at 5 minutes).
HALVING_MIN_REMAINING_SECONDS = 3.0


def trial_cap_seconds(budget_seconds: float, first_trial: bool = False) -> float:
    """The most seconds one search trial's folds may be predicted to take under this budget
    (a queued first trial: ``FIRST_TRIAL_CAP_FACTOR`` times more)."""
    cap = max(MAX_TRIAL_SHARE * budget_seconds, MIN_TRIAL_CAP_SECONDS)
    return cap * FIRST_TRIAL_CAP_FACTOR if first_trial else cap


def _has_result(study: optuna.Study) -> bool:
    return bool(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))


@dataclass(frozen=True)
class SearchOutcome:
    """The end of one ``search`` invocation."""

    study: optuna.Study
    meta: StudyMeta
    created: bool
    trials_run: int
    stopped_by: str  # "budget", "trials", "interrupted"
    seconds: float
    cache_stats: CacheStats
    #: the study's ensemble, when the search built one (:mod:`automoa.search.ensembling`)
    ensemble: Any = None
    #: set when no trial completed: the run's only result is the constant prior (its test
    #: predictions are in this submission file, when the data has test features)
    prior_only: bool = False
    prior_submission: str | None = None


def package_versions() -> dict[str, str]:
    """Versions that determine a trial's result."""
    return {
        "automoa": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "optuna": optuna.__version__,
    }


def make_sampler(seed: int, n_existing_trials: int) -> optuna.samplers.TPESampler:
    """Multivariate, grouped TPE for conditional spaces.

    Seeded with ``seed + n_existing_trials`` so that a resumed search does not replay the random
    start-up points of the first run, while a fresh study with the same seed repeats exactly.
    """
    with warnings.catch_warnings():
        # `group` is marked experimental; it is what makes TPE model conditional branches.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=seed + n_existing_trials,
            multivariate=True,
            group=True,
            constant_liar=True,
        )


def make_pruner(n_splits: int = 5) -> optuna.pruners.BasePruner:
    """Fold-level successive halving (after the first fold) of the trials whose remaining folds
    take at least ``HALVING_MIN_REMAINING_SECONDS``, then the 1% margin rule."""
    return FoldHalvingPruner(n_splits=n_splits, min_remaining_seconds=HALVING_MIN_REMAINING_SECONDS)


def first_trials(space: SearchSpace, shape: DataShape) -> list[dict[str, Any]]:
    """The configurations tried before the sampler proposes: cheapest first.

    The space's known-good ``starts`` and the default configuration of each family that has no
    start (a start is that family's known-good default), ordered by their predicted cost on
    this data, ``linear`` first: its regularisation path is the cheap, strong baseline every
    budget must be able to afford.
    """
    queue: list[tuple[tuple[bool, float], dict[str, Any]]] = []
    started_families = set()
    for start in space.starts:
        try:
            params = start_params(space, start)
        except SearchSpaceError as exc:
            warnings.warn(
                f"start {start.name!r} skipped: it does not fit the space bound to this data "
                f"({exc})",
                DataWarning,
                stacklevel=3,
            )
            continue
        started_families.add(start.family)
        queue.append((_queue_key(space, params, shape), params))
    for family in space.families:
        if family not in started_families:
            params = default_params(space, family)
            queue.append((_queue_key(space, params, shape), params))
    queue.sort(key=lambda item: item[0])
    return [params for _, params in queue]


def _queue_key(space: SearchSpace, params: dict[str, Any], shape: DataShape) -> tuple[bool, float]:
    config = config_from_params(space, params)
    return config.family != "linear", CostModel(shape).fold_seconds(config)


def _tried(study: optuna.Study, params: dict[str, Any]) -> bool:
    """Whether a trial with exactly these parameters is in the study (any state)."""
    for trial in study.get_trials(deepcopy=False):
        if trial.system_attrs.get("fixed_params", trial.params) == params:
            return True
    return False


def _queue_next_first_trial(
    study: optuna.Study,
    space: SearchSpace,
    queue: list[dict[str, Any]],
    cost: CostModel,
    deadline: Deadline,
) -> None:
    """Queue the first untried configuration of ``queue`` whose cross-validation fits the time
    left; an expensive one stays untried for a later, longer run."""
    waiting = optuna.trial.TrialState.WAITING
    if study.get_trials(deepcopy=False, states=(waiting,)):
        return  # queued by an earlier run, another worker, or a retry
    capped = _has_result(study)
    for params in queue:
        if _tried(study, params):
            continue
        seconds = cost.trial_seconds(config_from_params(space, params))
        if capped and seconds > trial_cap_seconds(deadline.budget, first_trial=True):
            continue  # too large a share of this budget; a longer run will try it
        if deadline.can_fit(seconds):
            # Marked (TrialRecord.first_trial) when queued: it may take more of the budget.
            first = TrialRecord(first_trial=True).attrs()
            study.enqueue_trial(params, user_attrs=first, skip_if_exists=True)
            return


def _refuse_repeats(trial: optuna.Trial, config: PipelineConfig) -> None:
    """Stop a trial whose configuration a finished or running trial already evaluates.

    Trials are deterministic (same folds, same seed), so a repeat would only cost time; it is
    stopped before its first fold (a space with no sampled parameter for a family, such as the
    linear path, otherwise repeats that family's one configuration). A seed sibling repeats its
    origin's configuration on purpose (another seed) and is never refused; a repeat is named
    after the search trial it repeats, never after a sibling.
    """
    if is_seed_sibling(trial):
        return
    wanted = config.to_dict()
    active = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING)
    for other in trial.study.get_trials(deepcopy=False, states=active):
        if is_seed_sibling(other):
            continue
        if other.number != trial.number and TrialRecord.read(other).config == wanted:
            raise TrialStopped(f"repeat of trial {other.number}: same configuration", [])


def measured_fold_seconds(trial: optuna.trial.FrozenTrial) -> float | None:
    """Mean seconds of a complete trial's folds, as recorded (``None`` when not recorded).

    For a re-run of the same configuration (a seed sibling) this measurement on this machine
    predicts better than the cost model.
    """
    seconds = TrialRecord.read(trial).fold_seconds
    if trial.state != optuna.trial.TrialState.COMPLETE or not seconds:
        return None
    return float(sum(seconds)) / len(seconds)


def sibling_origin(trial: optuna.Trial) -> optuna.trial.FrozenTrial | None:
    """The trial whose configuration the seed sibling ``trial`` re-trains (``None``: not one).

    Raises:
        StudyError: the sibling names no complete trial of the study, or has no ``seed``.
    """
    record = TrialRecord.read(trial)
    number = record.seed_of
    if number is None:
        return None
    if not isinstance(record.seed, int):
        raise StudyError(f"seed sibling trial {trial.number} has no integer 'seed' attribute")
    complete = optuna.trial.TrialState.COMPLETE
    for other in trial.study.get_trials(deepcopy=False, states=(complete,)):
        if other.number == number:
            return other
    raise StudyError(
        f"seed sibling trial {trial.number} re-trains trial {number}, which is not complete"
    )


class Objective:
    """Evaluates one Optuna trial and records its artifacts and attributes.

    A search trial is sampled from ``space`` and fitted with the study ``seed``. A seed sibling
    (a trial enqueued with the user attributes ``seed_of`` and ``seed``, see
    :mod:`automoa.search.seeds`) is its origin's configuration fitted with its own seed: its
    fold time is predicted from the origin's measured folds, and it is never refused as a
    repeat nor pruned, whatever the study's pruner.

    Args:
        dataset: the study's data.
        meta: the study's creation facts (folds).
        space: the bound search space the study stores.
        artifacts: where OOF / test predictions and fold models are written.
        deadline: no fold starts that is predicted to miss it.
        seed: the study seed (search trials' model seed).
        device: ``cpu`` or ``cuda``.
        cache: fitted preprocessing shared across trials.
        keep_models: save each complete trial's fold models as an artifact.
        checkpoints: save each finished fold, so that the retry of a killed trial resumes.
    """

    def __init__(
        self,
        dataset: Dataset,
        meta: StudyMeta,
        space: SearchSpace,
        artifacts: StudyArtifacts,
        deadline: Deadline,
        seed: int,
        device: str,
        cache: StepCache | None = None,
        keep_models: bool = False,
        checkpoints: bool = True,
    ) -> None:
        self.cache = cache
        self.keep_models = keep_models
        self.checkpoints = checkpoints
        self.data_key = data_key(dataset)
        self.dataset = dataset
        self.meta = meta
        self.space = space
        self.artifacts = artifacts
        self.store = artifacts.store
        self.deadline = deadline
        self.seed = seed
        self.device = device
        self.versions = package_versions()
        self.cost = CostModel(DataShape.of(dataset, int(meta.folds.max()) + 1))

    def _refuse_oversized(self, trial: optuna.Trial, predicted_seconds: float) -> None:
        """Stop, before its first fold, a trial predicted to take more than its share of the
        budget (:func:`trial_cap_seconds`); the study's first result is worth any share."""
        queued = bool(TrialRecord.read(trial).first_trial)
        cap = trial_cap_seconds(self.deadline.budget, first_trial=queued)
        if predicted_seconds > cap and _has_result(trial.study):
            raise TrialStopped(
                f"budget: its folds need ~{predicted_seconds:.1f}s, more than the "
                f"{cap:.0f}s one trial may take of this budget",
                [],
            )

    def __call__(self, trial: optuna.Trial) -> float:
        config = sample(trial, self.space)
        origin = sibling_origin(trial)
        seed = self.seed if origin is None else int(TrialRecord.read(trial).seed)
        predicted = self.cost.fold_seconds(config)
        if origin is not None:
            if TrialRecord.read(origin).config != config.to_dict():
                raise StudyError(
                    f"seed sibling trial {trial.number} does not repeat the configuration of "
                    f"trial {origin.number}"
                )
            predicted = measured_fold_seconds(origin) or predicted
        TrialRecord(
            family=config.family,
            config=config.to_dict(),
            seed=seed,
            device=self.device,
            predicted_fold_seconds=predicted,
        ).write(trial)
        n_splits = int(self.meta.folds.max()) + 1
        check_time_left(self.deadline, predicted, 0, n_splits)  # costs nothing when refused
        if origin is None:
            self._refuse_oversized(trial, predicted * n_splits)
        _refuse_repeats(trial, config)

        last_fold = int(self.meta.folds.max())

        def report(fold: int, mean_loss: float) -> bool:
            trial.report(mean_loss, fold)
            # After the last fold the work is done: the trial is scored, never pruned. A sibling
            # re-runs a selected member: not a candidate, never pruned (the study may have been
            # loaded with Optuna's default pruner).
            return fold < last_fold and origin is None and trial.should_prune()

        checkpoints = None
        if self.checkpoints:
            checkpoints = FoldCheckpoints.for_trial(
                self.artifacts, self.data_key, self.meta.folds, config, seed
            )
        try:
            result = evaluate(
                config,
                self.dataset,
                self.meta.folds,
                deadline=self.deadline,
                reporter=report,
                seed=seed,
                device=self.device,
                expected_fold_seconds=predicted,
                cache=self.cache,
                keep_models=self.keep_models,
                checkpoints=checkpoints,
            )
        except BaseException:
            # The outcome (pruned, failed, interrupted) is recorded: no retry will need the
            # folds. Only a killed worker leaves them behind, for the retry of its trial.
            if checkpoints is not None:
                checkpoints.clear()
            raise
        # Each artifact's id is recorded as soon as it is saved.
        TrialRecord(oof_artifact=save_array(self.store, trial, result.oof, "oof")).write(trial)
        if self.keep_models:
            info = {"trial": trial.number, "config": config.to_dict(), "seed": seed}
            models_id = save_fold_models_artifact(self.store, trial, result.fold_models, info)
            TrialRecord(models_artifact=models_id).write(trial)
        if result.test_pred is not None:
            test_id = save_array(self.store, trial, result.test_pred, "test")
            TrialRecord(test_artifact=test_id).write(trial)
        TrialRecord(
            fold_scores=result.fold_scores,
            fold_seconds=result.fold_seconds,
            fit_seconds=float(sum(result.fold_seconds)),
            cv_std=result.fold_std,
            versions=self.versions,
        ).write(trial)
        if checkpoints is not None:
            checkpoints.clear()  # the artifacts hold the result now
        return result.cv_score


#: Sampler seed offset between workers of one study.
WORKER_SEED_STRIDE = 7919


def prepare_study(
    dataset: Dataset,
    location: StudyLocation,
    space: SearchSpace,
    n_splits: int,
    seed: int,
    deadline: Deadline | None = None,
) -> tuple[optuna.Study, StudyMeta, bool, SearchSpace]:
    """Open (or create and set up) the study: bound space, folds, prior (waiting for another
    worker's set-up no longer than ``deadline``).

    Returns:
        ``(study, meta, created, bound space)``.
    """
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    check_n_splits(n_splits, dataset.n_rows)
    # Data-dependent bounds (e.g. PCA components) are fixed before the study sees the space.
    n_train_rows = int(dataset.trainable_mask.sum()) * (n_splits - 1) // n_splits
    n_aux_labels = 0 if dataset.Y_aux is None else int((dataset.Y_aux.sum(axis=0) > 0).sum())
    space = bind_data(
        space, dataset.feature_names, n_train_rows, n_aux_labels, has_missing=dataset.has_missing
    )
    study, meta, created = open_study(
        location,
        dataset,
        space,
        n_splits=n_splits,
        seed=seed,
        pruner=make_pruner(),
        deadline=deadline,
    )
    return study, meta, created, space


@latched_ctrl_c()  # a Ctrl-C swallowed by a finalizer still stops it: automoa.interrupts
def run_search(
    dataset: Dataset,
    location: StudyLocation,
    space: SearchSpace,
    settings: SearchSettings,
    *,
    total_trials: int | None = None,
    worker: int = 0,
) -> SearchOutcome:
    """Search pipelines for ``dataset`` until the budget or the trial count is spent.

    Running it again on the same location continues the same study. Each trial is cross-
    validated on the study's folds; its out-of-fold (and test) predictions are saved as
    artifacts before it is marked complete. A failing trial is recorded with its reason and the
    search goes on; Ctrl-C marks the running trial failed and returns, losing no finished trial.

    Args:
        dataset: the data (must match the study's fingerprint when resuming).
        location: storage URL, study name, artifact directory.
        space: the search space (must match the study's when resuming); it is first bound to
            the data (:func:`~automoa.spaces.bind_data`), and the bound space is what the study
            stores.
        settings: budget, folds, seed, device, trial limit, kept models and hooks (the
            callbacks are called after every trial this process ran).
        total_trials: stop once the study holds this many started trials (all workers
            together; workers sharing a study use it for a common trial count).
        worker: this worker's index among those sharing the study (offsets the sampler seed).

    Returns:
        The outcome.
    """
    deadline = Deadline(settings.budget_seconds)
    started = time.perf_counter()
    seed = settings.seed
    study, meta, created, space = prepare_study(
        dataset, location, space, settings.n_splits, seed, deadline
    )
    n_existing = len(study.get_trials(deepcopy=False))
    # The sampler's seed depends on the trial count, known only once the study is open, and on
    # the worker, so that workers sharing a study do not draw the same configurations.
    study.sampler = make_sampler(seed + WORKER_SEED_STRIDE * worker, n_existing)
    study.pruner = make_pruner(int(meta.folds.max()) + 1)
    if settings.on_start is not None:
        settings.on_start(meta, started_trials(study))  # queued first trials are not "existing"

    cache = StepCache(location.cache_dir)
    objective = Objective(
        dataset,
        meta,
        space,
        location.open_artifacts(),
        deadline,
        seed,
        settings.device,
        cache,
        settings.keep_models,
    )
    shape = DataShape.of(dataset, n_splits=int(meta.folds.max()) + 1)
    queue = first_trials(space, shape)
    cheapest = [config_from_params(space, params) for params in queue[:1]]
    trials_run = 0
    budget_prunes = 0
    stopped_by = "budget"
    best = best_value(study)
    while True:
        if settings.max_trials is not None and trials_run >= settings.max_trials:
            stopped_by = "trials"
            break
        if total_trials is not None and started_trials(study) >= total_trials:
            stopped_by = "trials"
            break
        if deadline.expired():
            break
        if interrupt_requested():  # a Ctrl-C whose exception a finalizer swallowed
            stopped_by = "interrupted"
            break
        fail_dead_trials(study)  # re-queues the trials of workers that died
        # Calibrated on every finished fold so far, this worker's and the others'.
        objective.cost.observe_trials(study.get_trials(deepcopy=False))
        if worker == 0:  # one queueing worker per machine group: no race to queue twice
            _queue_next_first_trial(study, space, queue, objective.cost, deadline)
        with warnings.catch_warnings():
            # Optuna expects heartbeats with study.optimize; this loop beats itself (Heartbeat).
            warnings.filterwarnings("ignore", message="Heartbeat of storage", category=UserWarning)
            trial = study.ask()
        TrialRecord(owner=this_process()).write(trial)  # a resume here fails it at once if killed
        run = run_trial(study, trial, objective)
        value, reason = run.value, run.reason
        if run.interrupted or interrupt_requested():
            stopped_by = "interrupted"
        trials_run += 1
        if value is not None and (best is None or value < best):
            best = value
        if settings.on_trial is not None:
            settings.on_trial(
                TrialEvent(
                    trial.number,
                    run.state.name,
                    TrialRecord.read(trial).family or "?",
                    value,
                    run.seconds,
                    reason,
                    best,
                )
            )
        if settings.callbacks:
            run_callbacks(settings.callbacks, study, trial_by_number(study, trial.number))
        if stopped_by == "interrupted":
            break
        # A trial too slow for the time left does not end the search (it was stopped before
        # its first fold, at no cost): a cheaper proposal may still fit. Several in a row, once
        # not even the cheapest first trial fits, mean nothing will.
        cheap_stop = (reason or "").startswith(("budget", "repeat"))
        budget_prunes = budget_prunes + 1 if cheap_stop else 0
        cheapest_fits = any(deadline.can_fit(objective.cost.trial_seconds(c)) for c in cheapest)
        if budget_prunes >= _MAX_BUDGET_PRUNES and not cheapest_fits:
            break
        if budget_prunes >= _MAX_BUDGET_SKIPS:
            break
    return SearchOutcome(
        study, meta, created, trials_run, stopped_by, time.perf_counter() - started, cache.stats
    )


@dataclass(frozen=True)
class TrialRun:
    """How one trial run by :func:`run_trial` ended."""

    number: int
    state: optuna.trial.TrialState
    value: float | None
    reason: str | None
    seconds: float
    interrupted: bool = False


def run_trial(
    study: optuna.Study, trial: optuna.Trial, objective: Callable[[optuna.Trial], float]
) -> TrialRun:
    """Run ``objective`` on the running ``trial`` and tell the study how it ended.

    A stopped trial (pruned, out of time, a repeat) is told PRUNED with its reason and the folds
    it finished; a failing one FAIL with the exception as its reason, and so is one stopped by
    Ctrl-C (``interrupted`` is then set: the caller decides to stop). The trial's heartbeat is
    recorded while it runs.

    Args:
        study: the study ``trial`` belongs to.
        trial: a RUNNING trial (from ``study.ask()`` or a claimed queued trial).
        objective: what evaluates it (an :class:`Objective`).

    Returns:
        Its outcome.
    """
    started = time.perf_counter()
    state = optuna.trial.TrialState.COMPLETE
    value: float | None = None
    reason: str | None = None
    interrupted = False
    try:
        with Heartbeat(study._storage, trial._trial_id):
            value = objective(trial)
    except TrialStopped as stop:
        state, reason = optuna.trial.TrialState.PRUNED, stop.reason
        TrialRecord(fold_scores=stop.fold_scores, fold_seconds=stop.fold_seconds).write(trial)
    except KeyboardInterrupt:
        state, reason = optuna.trial.TrialState.FAIL, "interrupted by the user (Ctrl-C)"
        interrupted = True
    except Exception as exc:  # a failing pipeline must not end the search
        state, reason = optuna.trial.TrialState.FAIL, f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    # UpdateFinishedTrialError: another worker took this trial for dead (no heartbeat within
    # the grace period) and failed it; its retry redoes it.
    with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
        try:
            failed = state.name == "FAIL"
            TrialRecord(  # no reason (complete): only the seconds are written
                seconds=seconds,
                failure_reason=reason if failed else None,
                prune_reason=None if failed else reason,
            ).write(trial)
            complete = state == optuna.trial.TrialState.COMPLETE
            study.tell(trial, value if complete else None, state=state, skip_if_finished=True)
        except optuna.exceptions.StorageInternalError:
            _fail_if_possible(study, trial)  # leave no RUNNING trial of ours behind
            raise
    return TrialRun(trial.number, state, value, reason, seconds, interrupted)


def _fail_if_possible(study: optuna.Study, trial: optuna.Trial) -> None:
    """Fail ``trial`` after its outcome could not be stored, if the storage takes even that
    (a failing disk may not: then a resume on this host fails it, its owner being gone)."""
    with contextlib.suppress(Exception):
        study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)


def trial_by_number(study: optuna.Study, number: int) -> optuna.trial.FrozenTrial:
    """The stored (frozen) trial ``number`` of ``study``."""
    return next(t for t in study.get_trials(deepcopy=False) if t.number == number)


def started_trials(study: optuna.Study) -> int:
    """Trials started so far (every state except WAITING)."""
    waiting = optuna.trial.TrialState.WAITING
    return sum(t.state != waiting for t in study.get_trials(deepcopy=False))


def best_value(study: optuna.Study) -> float | None:
    """The lowest CV log loss of the study's complete trials (``None`` before the first)."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return min((t.value for t in complete), default=None)
