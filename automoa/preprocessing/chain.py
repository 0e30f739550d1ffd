"""A chain of steps fitted on one fold's training rows, then applied to any rows."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from automoa.config import StepConfig
from automoa.preprocessing.base import Step, StepState
from automoa.preprocessing.cache import CacheEntry, StepCache, prefix_key
from automoa.preprocessing.registry import get_step


class FittedChain:
    """Transform steps fitted in order; :meth:`transform` applies them to new rows.

    Resampling steps (oversampling) only ever changed the training rows, so they are not part
    of the fitted chain.
    """

    def __init__(self, steps: Sequence[Step], feature_names_out: tuple[str, ...]) -> None:
        self.steps = tuple(steps)
        self.feature_names_out = feature_names_out

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Apply the fitted steps to rows ``X``."""
        for step in self.steps:
            X = step.transform(X)
        return X

    def states(self) -> list[StepState]:
        """The fitted steps in safe formats (for export)."""
        return [step.state() for step in self.steps]

    @classmethod
    def from_states(cls, states: Sequence[StepState], feature_names_out: tuple[str, ...]):
        """Restore a chain saved with :meth:`states`."""
        return cls([get_step(s.name).from_state(s) for s in states], feature_names_out)


@dataclass
class PreparedFold:
    """A fold's rows after its fitted chain, ready for the model."""

    X_train: np.ndarray
    Y_train: np.ndarray
    X_valid: np.ndarray
    X_test: np.ndarray | None
    chain: FittedChain
    #: which of the fold's training rows the first ``len(kept_rows)`` rows of ``X_train`` are
    #: (the rest are synthetic); ``arange(n)`` unless an undersampler dropped rows
    kept_rows: np.ndarray | None = None


def _apply(
    config: StepConfig,
    entry: CacheEntry,
    test_fit_rows: np.ndarray | None,
    seed: int,
    n_fold_rows: int,
) -> CacheEntry:
    """Fit one step on the entry's training rows and transform every part of it (the fold had
    ``n_fold_rows`` training rows: the leading rows while no undersampler dropped any)."""
    step = get_step(config.name)(**config.params)
    if step.resamples:
        X_train, Y_train = step.fit_resample(
            entry.X_train, entry.Y_train, entry.feature_names, seed=seed
        )
        kept = entry.kept
        dropped_to = step.kept_rows()
        if dropped_to is not None:
            originals = n_fold_rows if kept is None else len(kept)
            survivors = dropped_to[dropped_to < originals]  # synthetic survivors follow them
            kept = survivors if kept is None else kept[survivors]
        return CacheEntry(
            X_train, Y_train, entry.X_valid, entry.X_test, entry.feature_names, entry.states, kept
        )
    X_fit = entry.X_train
    if config.fit_on == "train+test":
        # Transductive opt-in: the features (never labels) of every row this fold transforms.
        parts = [entry.X_train, entry.X_valid]
        if entry.X_test is not None:
            parts.append(entry.X_test if test_fit_rows is None else entry.X_test[test_fit_rows])
        X_fit = np.vstack(parts)
    step.fit(
        X_fit, entry.Y_train if X_fit is entry.X_train else None, entry.feature_names, seed=seed
    )
    return CacheEntry(
        step.transform(entry.X_train),
        entry.Y_train,
        step.transform(entry.X_valid),
        None if entry.X_test is None else step.transform(entry.X_test),
        step.feature_names_out,
        [*entry.states, step.state()],
        entry.kept,
    )


def prepare_fold(
    configs: Sequence[StepConfig],
    X_train: np.ndarray,
    Y_train: np.ndarray,
    X_valid: np.ndarray,
    X_test: np.ndarray | None,
    feature_names: tuple[str, ...],
    *,
    seed: int = 0,
    test_fit_rows: np.ndarray | None = None,
    cache: StepCache | None = None,
    fold_key: str | None = None,
) -> PreparedFold:
    """Fit the configured steps on a fold's training rows and transform all its rows.

    The longest chain prefix already in ``cache`` for this fold is reused; every prefix
    computed here is stored.

    Args:
        configs: the steps, first to last.
        X_train: the training fold's features (known-negative rows already removed).
        Y_train: its labels (for label-aware steps and resamplers).
        X_valid: the validation rows (only transformed, never fitted on, unless a step opts in
            to ``fit_on: train+test``, which uses their features only).
        X_test: test rows or ``None`` (likewise).
        feature_names: names of the input columns.
        seed: the fold's seed (PCA solver, oversampling draws).
        test_fit_rows: which test rows a transductive step may fit on (known negatives out).
        cache: a shared cache, or ``None``.
        fold_key: identity of the fold's inputs (see :func:`~automoa.preprocessing.cache.fold_key`);
            required with ``cache``.

    Returns:
        The transformed rows and the fitted chain.
    """
    entry = CacheEntry(X_train, Y_train, X_valid, X_test, tuple(feature_names), [])
    start = 0
    keys = [prefix_key(fold_key or "", configs[: i + 1]) for i in range(len(configs))]
    use_cache = cache is not None and fold_key is not None
    if use_cache:
        for i in range(len(configs), 0, -1):
            cached = cache.get(keys[i - 1])
            if cached is not None:
                entry, start = cached, i
                break
    for i in range(len(configs)):
        if i < start:
            cache.stats.record(configs[i].key, hit=True)
            continue
        started = time.perf_counter()
        entry = _apply(configs[i], entry, test_fit_rows, seed, len(X_train))
        if use_cache:
            cache.stats.record(configs[i].key, hit=False, seconds=time.perf_counter() - started)
            cache.put(keys[i], entry)
    chain = FittedChain.from_states(entry.states, entry.feature_names)
    kept = np.arange(len(X_train)) if entry.kept is None else entry.kept
    return PreparedFold(entry.X_train, entry.Y_train, entry.X_valid, entry.X_test, chain, kept)
