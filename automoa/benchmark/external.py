"""Other AutoML systems (AutoGluon, FLAML), each run in a virtual environment of its own.

Their pinned dependencies clash with automoa's (AutoGluon 1.6 wants pandas < 2.4, FLAML's
XGBoost learner xgboost < 3), so the harness makes one virtual environment per system the first
time it is needed (``pip install`` from the package registry) and runs a stand-alone script
from :mod:`automoa.benchmark.runners` there: the task goes in as an ``.npz`` file, the test
probabilities come back as one. Each gets the same budget and cores as automoa: the budget is
shared out over the labels as each label is fitted, and the process is killed at twice the
budget plus five minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from automoa.benchmark.systems import SystemRun, finish_predictions
from automoa.benchmark.tasks import BenchmarkTask
from automoa.npz import save_npz
from automoa.threads import NATIVE_THREAD_VARIABLES

RUNNERS = Path(__file__).parent / "runners"
#: Beyond the budget, how long a system may run before it is killed (its row says so).
KILL_GRACE_SECONDS = 300.0


@dataclass(frozen=True)
class ExternalSystem:
    """An AutoML system installed in its own virtual environment.

    Attributes:
        name: the system's name in results.
        requirements: ``pip install`` arguments, in order (each one pip call).
        runner: the script under ``runners/`` that drives it.
        options: extra options given to the runner.
    """

    name: str
    requirements: tuple[tuple[str, ...], ...]
    runner: str
    options: tuple[tuple[str, str], ...] = ()


EXTERNAL_SYSTEMS = {
    "autogluon": ExternalSystem(
        "autogluon",
        (
            ("torch==2.13.0",),  # the CPU build on this disk; else a CUDA build is pulled in
            ("autogluon.tabular[lightgbm,catboost,xgboost,fastai]==1.6.*",),
        ),
        "autogluon_runner.py",
        # What the AutoML Benchmark runs AutoGluon with (its most accurate preset: bagging and
        # stacking that use the time given); medium_quality stops after one pass of models.
        (("presets", "best_quality"),),
    ),
    "flaml": ExternalSystem("flaml", (("flaml[automl]==2.7.*",),), "flaml_runner.py"),
}


class ExternalSystemError(RuntimeError):
    """The system could not be installed or did not produce predictions."""


def _tail(text: str, lines: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def ensure_environment(system: ExternalSystem, venvs_dir: Path) -> Path:
    """The Python of the system's virtual environment, made (once) if missing.

    Raises:
        ExternalSystemError: venv creation or an install failed (its last lines are given).
    """
    spec = json.dumps(system.requirements)
    directory = venvs_dir / system.name
    python = directory / "bin" / "python"
    stamp = directory / ".automoa-installed"
    if python.exists() and stamp.is_file() and stamp.read_text() == spec:
        return python
    directory.parent.mkdir(parents=True, exist_ok=True)
    steps = [[sys.executable, "-m", "venv", "--clear", str(directory)]]
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    steps += [[*pip, *requirement] for requirement in system.requirements]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ExternalSystemError(
                f"{system.name}: {' '.join(step[-1:])} failed: {_tail(done.stderr or done.stdout)}"
            )
    stamp.write_text(spec)
    return python


def run_external(
    system: ExternalSystem,
    task: BenchmarkTask,
    seed: int,
    cores: int,
    budget_seconds: float,
    workdir: Path,
    venvs_dir: Path,
) -> SystemRun:
    """Run ``system`` on ``task`` in its own environment.

    Raises:
        ExternalSystemError: it could not be installed, failed, or ran past its kill time.
    """
    python = ensure_environment(system, venvs_dir)
    train = task.train
    rows = train.trainable_mask
    workdir.mkdir(parents=True, exist_ok=True)
    task_file, options_file, result_file = (
        workdir / "task.npz",
        workdir / "options.json",
        workdir / "result.npz",
    )
    save_npz(task_file, {"X": train.X[rows], "Y": train.Y[rows], "X_test": train.X_test})
    options = {
        "budget_seconds": budget_seconds,
        "seed": seed,
        "cores": cores,
        "workdir": str(workdir / "models"),
        **dict(system.options),
    }
    options_file.write_text(json.dumps(options))
    env = {**os.environ, **{name: str(cores) for name in NATIVE_THREAD_VARIABLES}}
    env.pop("PYTHONPATH", None)
    command = [str(python), str(RUNNERS / system.runner), str(task_file), str(options_file)]
    try:
        done = subprocess.run(
            [*command, str(result_file)],
            capture_output=True,
            text=True,
            env=env,
            timeout=2 * budget_seconds + KILL_GRACE_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ExternalSystemError(
            f"{system.name}: killed after {2 * budget_seconds + KILL_GRACE_SECONDS:.0f} s"
        ) from None
    (workdir / "stderr.txt").write_text(done.stderr)
    if done.returncode != 0 or not result_file.is_file():
        raise ExternalSystemError(
            f"{system.name}: exit code {done.returncode}: {_tail(done.stderr)}"
        )
    with np.load(result_file, allow_pickle=False) as result:
        proba, fallback = result["proba"], result["fallback"]
    settings = "".join(f"{key}={value}; " for key, value in system.options)
    notes = f"{settings}{int(fallback.sum())} of {len(fallback)} labels predicted by their rate"
    return SystemRun(finish_predictions(train, proba), notes=notes)
