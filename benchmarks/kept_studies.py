"""A study kept by ``automoa benchmark --keep-workdirs``, loaded for the ensemble benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna

from automoa.benchmark.runner import kept_run_task
from automoa.benchmark.tasks import BenchmarkTask, default_datasets_dir
from automoa.metrics import mean_columnwise_log_loss
from automoa.search.ensembling import Candidate, ensemble_candidates
from automoa.search.record import TrialRecord
from automoa.search.study import resolve_location


@dataclass(frozen=True)
class KeptStudy:
    """A kept run's task, study and ensemble candidates with their OOF and test predictions."""

    task: BenchmarkTask
    study: optuna.Study
    candidates: list[Candidate]
    oofs: list[np.ndarray]
    tests: list[np.ndarray]


def held_out_loss(task: BenchmarkTask, P: np.ndarray) -> float:
    """Mean column-wise log loss of test predictions ``P`` on the task's held-out rows, its
    known-negative cells predicted 0."""
    P = np.array(P, dtype=np.float64)
    if task.train.test_known_negative is not None:
        P[task.train.test_known_negative] = 0.0
    return mean_columnwise_log_loss(task.Y_test, P)


def load_kept(run: Path, study_name: str, cache: Path) -> KeptStudy:
    """Rebuild the benchmark task of ``run`` and load its study's candidates (best first)."""
    task = kept_run_task(run, datasets_dir=default_datasets_dir(), cache_dir=cache)
    location = resolve_location(study_name, run)
    study = optuna.load_study(study_name=study_name, storage=location.storage)
    artifacts = location.open_artifacts()
    candidates = ensemble_candidates(study, artifacts, task.train.Y.shape)
    tests = [
        np.load(artifacts.local_path(TrialRecord.read(c.trial).test_artifact), allow_pickle=False)
        for c in candidates
    ]
    return KeptStudy(task, study, candidates, [c.oof(False) for c in candidates], tests)
