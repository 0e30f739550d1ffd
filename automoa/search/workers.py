"""Several worker processes on one study (``automoa search --workers N``).

The parent opens (or creates and sets up) the study first, so that the workers never race on
creating the storage or the study; then it starts N processes, each running the ordinary search
loop on the same study with its share of the cores (:mod:`automoa.threads`) and its own sampler
seed, and reports their trials as they finish. Every worker stops at the same wall-clock
deadline; a common trial count is shared through the study itself.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any

import optuna

from automoa.data.dataset import Dataset
from automoa.deadline import Deadline
from automoa.exceptions import AutomoaError, StudyError
from automoa.preprocessing.cache import CacheStats
from automoa.search.callbacks import StudyCallback, run_callbacks
from automoa.search.controller import SearchOutcome, prepare_study, run_search, started_trials
from automoa.search.record import TrialRecord
from automoa.search.settings import SearchSettings, TrialEvent
from automoa.search.study import StudyLocation
from automoa.spaces import SearchSpace, space_from_json
from automoa.threads import environment, worker_environment

#: Seconds between two looks of the parent at the study (progress lines).
POLL_SECONDS = 1.0


def _worker(
    index: int,
    dataset: Dataset,
    location: StudyLocation,
    space_json: str,
    deadline_epoch: float,
    settings: SearchSettings,
    total_trials: int | None,
    errors: Any,
) -> None:
    """One worker process: the search loop until the common deadline."""
    try:
        run_search(
            dataset,
            location,
            space_from_json(space_json),
            # The time left when this process gets going: spawning and imports count.
            dataclasses.replace(settings, budget_seconds=max(0.0, deadline_epoch - time.time())),
            total_trials=total_trials,
            worker=index,
        )
    except KeyboardInterrupt:
        pass  # the running trial is recorded as interrupted by the loop itself
    except AutomoaError as exc:
        errors.put(str(exc))
    except Exception as exc:  # reported by the parent, which exits with an error
        errors.put(f"worker {index}: {type(exc).__name__}: {exc}")


def _event(trial: optuna.trial.FrozenTrial, best: float | None) -> TrialEvent:
    record = TrialRecord.read(trial)
    return TrialEvent(
        trial.number,
        trial.state.name,
        record.family or "?",
        trial.value,
        float(record.seconds or 0.0),
        record.reason,
        best,
    )


def _report(
    study: optuna.Study,
    seen: set[int],
    on_trial: Callable[[TrialEvent], None] | None,
    callbacks: Sequence[StudyCallback] = (),
) -> int:
    """Report trials finished since the last look (and call the callbacks); returns how many."""
    trials = study.get_trials(deepcopy=False)  # one query per look
    new = sorted(
        (t for t in trials if t.state.is_finished() and t.number not in seen),
        key=lambda t: t.number,
    )
    complete = optuna.trial.TrialState.COMPLETE
    # The best value as each new trial finished: the seen trials', then running.
    best = min((t.value for t in trials if t.number in seen and t.state == complete), default=None)
    for trial in new:
        seen.add(trial.number)
        if trial.state == complete and (best is None or trial.value < best):
            best = trial.value
        if on_trial is not None:
            on_trial(_event(trial, best))
        run_callbacks(callbacks, study, trial)
    return len(new)


def run_workers(
    dataset: Dataset,
    location: StudyLocation,
    space: SearchSpace,
    settings: SearchSettings,
    *,
    n_workers: int,
) -> SearchOutcome:
    """Search with ``n_workers`` processes on one study until the budget or trial count is spent.

    Args:
        dataset: the data.
        location: the study's storage and artifact directory (every worker reaches them).
        space: the search space.
        settings: the search's options; ``budget_seconds`` is the wall clock for the whole
            call, ``max_trials`` counts the new trials of all workers together, and the hooks
            and callbacks are called in the parent for every trial that finishes (so they need
            not be picklable).
        n_workers: worker processes (each gets ``cores // n_workers`` threads).

    Returns:
        The outcome (``trials_run`` counts every worker's trials).

    Raises:
        StudyError: a worker failed before any trial could run.
    """
    started = time.perf_counter()
    deadline_epoch = time.time() + settings.budget_seconds
    study, meta, created, _ = prepare_study(
        dataset,
        location,
        space,
        settings.n_splits,
        settings.seed,
        Deadline(settings.budget_seconds),
    )
    seen = {t.number for t in study.get_trials(deepcopy=False) if t.state.is_finished()}
    if settings.on_start is not None:
        settings.on_start(meta, started_trials(study))  # queued first trials are not "existing"
    max_trials = settings.max_trials
    total = None if max_trials is None else started_trials(study) + max_trials
    # The workers get no hooks (the parent calls them) and count trials through the study.
    worker_settings = settings.for_worker()
    context = multiprocessing.get_context("spawn")
    errors = context.Queue()
    processes = []
    with environment(worker_environment(n_workers)):
        for index in range(n_workers):
            process = context.Process(
                target=_worker,
                args=(
                    index,
                    dataset,
                    location,
                    space.to_json(),
                    deadline_epoch,
                    worker_settings,
                    total,
                    errors,
                ),
                name=f"automoa-worker-{index}",
            )
            process.start()
            processes.append(process)
    trials_run, interrupted = 0, False
    failure = None
    try:
        while any(p.is_alive() for p in processes):
            time.sleep(POLL_SECONDS)
            trials_run += _report(study, seen, settings.on_trial, settings.callbacks)
    except KeyboardInterrupt:
        interrupted = True  # the workers got the same signal and finish their trial's record
    except StudyError as exc:  # a callback failed: stop the workers as Ctrl-C would
        failure = exc
        for process in processes:
            if process.is_alive() and process.pid is not None:
                os.kill(process.pid, signal.SIGINT)
    for process in processes:
        process.join()
    if failure is not None:
        raise failure
    trials_run += _report(study, seen, settings.on_trial, settings.callbacks)
    messages = []
    while not errors.empty():
        messages.append(errors.get())
    if messages and trials_run == 0:
        raise StudyError(messages[0])
    if interrupted:
        stopped_by = "interrupted"
    elif total is not None and started_trials(study) >= total:
        stopped_by = "trials"
    else:
        stopped_by = "budget"
    return SearchOutcome(
        study, meta, created, trials_run, stopped_by, time.perf_counter() - started, CacheStats()
    )
